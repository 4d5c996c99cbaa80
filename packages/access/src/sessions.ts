import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from '@meterline/db';

export interface DashboardSession {
  resourceId: string;
  email: string;
  emailVerified: boolean;
  userId: string | null;
  expiresAt: number;
  /** the session's CSRF token (set when it opens) */
  csrf?: string;
}

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** SSO sessions of the customer's dashboard; the cookie carries a random token, the table only its hash. */
export class SessionStore {
  constructor(private readonly pool: Pool) {}

  async open(session: DashboardSession, now: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.pool.query(
      `INSERT INTO dashboard_sessions (token_hash, resource_id, email, email_verified, user_id, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        hash(token),
        session.resourceId,
        session.email,
        session.emailVerified,
        session.userId,
        new Date(now),
        new Date(session.expiresAt),
      ],
    );
    // Expired sessions are dropped as new ones open; no sweeper needed.
    await this.pool.query('DELETE FROM dashboard_sessions WHERE expires_at < $1', [new Date(now)]);
    return token;
  }

  /** Ends a session at once (its person left the app's access list). */
  async close(token: string): Promise<void> {
    await this.pool.query('DELETE FROM dashboard_sessions WHERE token_hash = $1', [hash(token)]);
  }

  async find(token: string | undefined, now: number): Promise<DashboardSession | null> {
    if (!token) return null;
    const { rows } = await this.pool.query<{
      resource_id: string;
      email: string;
      email_verified: boolean;
      user_id: string | null;
      expires_at: Date;
      csrf: string;
    }>(
      'SELECT resource_id, email, email_verified, user_id, expires_at, csrf FROM dashboard_sessions WHERE token_hash = $1 AND expires_at > $2',
      [hash(token), new Date(now)],
    );
    const r = rows[0];
    return r
      ? {
          resourceId: r.resource_id,
          email: r.email,
          emailVerified: r.email_verified,
          userId: r.user_id,
          expiresAt: r.expires_at.getTime(),
          csrf: r.csrf,
        }
      : null;
  }
}
