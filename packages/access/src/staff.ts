import type { Pool } from '@meterline/db';

/** One of the provider's own people (partner-portal model): a company user with company-wide
 * permissions, or a partner employee assigned to client accounts. */
export interface StaffMember {
  email: string;
  name: string | null;
  kind: 'company' | 'partner';
  /** Subscribed company users get CRITICAL alerts. */
  subscribed: boolean;
}

/** The provider's people (staff_users). */
export class StaffDirectory {
  constructor(private readonly pool: Pool) {}

  /** Adds a person, or updates one who is there (a removed one comes back). */
  async upsert(member: StaffMember): Promise<void> {
    await this.pool.query(
      `INSERT INTO staff_users (email, name, kind, subscribed) VALUES (lower($1), $2, $3, $4)
       ON CONFLICT (email) DO UPDATE SET name = excluded.name, kind = excluded.kind,
         subscribed = excluded.subscribed, removed_at = NULL`,
      [member.email, member.name, member.kind, member.subscribed],
    );
  }

  /** Removes a person (kept, with when, for the audit); false when there was none to remove. */
  async remove(email: string, at: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'UPDATE staff_users SET removed_at = $2 WHERE email = lower($1) AND removed_at IS NULL',
      [email, new Date(at)],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Whether any of these emails is a company user (company users may install hidden plans). */
  async anyCompanyUser(emails: readonly string[]): Promise<boolean> {
    if (emails.length === 0) return false;
    const { rows } = await this.pool.query(
      `SELECT 1 FROM staff_users WHERE kind = 'company' AND removed_at IS NULL AND lower(email) = ANY($1::text[]) LIMIT 1`,
      [emails.map((e) => e.toLowerCase())],
    );
    return rows.length > 0;
  }

  /** Company users who subscribed to critical alerts and were not removed. */
  async subscribed(): Promise<{ email: string; name?: string }[]> {
    const { rows } = await this.pool.query<{ email: string; name: string | null }>(
      `SELECT email, name FROM staff_users WHERE kind = 'company' AND subscribed AND removed_at IS NULL ORDER BY email`,
    );
    return rows.map((r) => (r.name ? { email: r.email, name: r.name } : { email: r.email }));
  }
}
