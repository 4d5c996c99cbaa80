import { inTransaction, type Pool } from '@meterline/db';
import type { AccessEntry } from '@meterline/heroku';

export interface AccessListState {
  entries: AccessEntry[];
  syncedAt: number | null;
  lastError: string | null;
}

/** An entry of the access list; the Platform API gives no name, a provider's import may. */
export type AccessListEntry = AccessEntry & { name?: string | null };

/** The user access list (resource_access, resource_access_sync), synced from the Platform API by the api
 * and read by the notifier for recipients and by the dashboard; and the provider's own contacts of a
 * resource (resource_contacts), who receive every alert. */
export class AccessStore {
  constructor(private readonly pool: Pool) {}

  /** Replaces the resource's list with what the Platform API says now. */
  async replace(resourceId: string, entries: readonly AccessListEntry[], now: number): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query('DELETE FROM resource_access WHERE resource_id = $1', [resourceId]);
      for (const e of entries) {
        await client.query(
          `INSERT INTO resource_access (resource_id, email, user_id, name, role, synced_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (resource_id, email) DO NOTHING`,
          [resourceId, e.email, e.userId, e.name ?? null, e.role, new Date(now)],
        );
      }
      await client.query(
        `INSERT INTO resource_access_sync (resource_id, synced_at, last_error) VALUES ($1, $2, NULL)
         ON CONFLICT (resource_id) DO UPDATE SET synced_at = excluded.synced_at, last_error = NULL`,
        [resourceId, new Date(now)],
      );
    });
  }

  /** Keeps the last good list and says why the refresh failed. */
  async recordError(resourceId: string, error: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO resource_access_sync (resource_id, synced_at, last_error) VALUES ($1, to_timestamp(0), $2)
       ON CONFLICT (resource_id) DO UPDATE SET last_error = excluded.last_error`,
      [resourceId, error],
    );
  }

  async get(resourceId: string): Promise<AccessListState> {
    const [list, sync] = await Promise.all([
      this.pool.query<{ email: string; user_id: string | null; role: AccessEntry['role'] }>(
        `SELECT email, user_id, role FROM resource_access WHERE resource_id = $1
         ORDER BY array_position(ARRAY['owner','admin','member','collaborator','viewer'], role), email`,
        [resourceId],
      ),
      this.pool.query<{ synced_at: Date; last_error: string | null }>(
        'SELECT synced_at, last_error FROM resource_access_sync WHERE resource_id = $1',
        [resourceId],
      ),
    ]);
    const synced = sync.rows[0];
    return {
      entries: list.rows.map((r) => ({ email: r.email, userId: r.user_id, role: r.role })),
      syncedAt: synced && synced.synced_at.getTime() > 0 ? synced.synced_at.getTime() : null,
      lastError: synced?.last_error ?? null,
    };
  }

  /** Whether a person is on the resource's list, by Heroku user id or email (case aside); null when the list
   * was never synced, so that nothing is known either way. */
  async lists(resourceId: string, person: { email: string; userId: string | null }): Promise<boolean | null> {
    const { rows } = await this.pool.query<{ synced: boolean; listed: boolean }>(
      `SELECT
         EXISTS (SELECT 1 FROM resource_access_sync WHERE resource_id = $1 AND synced_at > to_timestamp(0)) AS synced,
         EXISTS (SELECT 1 FROM resource_access WHERE resource_id = $1
                 AND (lower(email) = lower($2) OR ($3::text IS NOT NULL AND user_id = $3))) AS listed`,
      [resourceId, person.email, person.userId],
    );
    const r = rows[0];
    return r?.synced ? r.listed : null;
  }

  /** Live resources holding tokens whose list is older than `maxAgeSeconds` (or was never synced). */
  async stale(maxAgeSeconds: number, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT r.id FROM resources r
       JOIN resource_oauth_tokens t ON t.resource_id = r.id
       LEFT JOIN resource_access_sync s ON s.resource_id = r.id
       WHERE r.state = 'provisioned'
         AND NOT EXISTS (SELECT 1 FROM platform_jobs j WHERE j.resource_id = r.id AND j.next_attempt_at <> 'infinity')
         AND (s.synced_at IS NULL OR s.synced_at < now() - make_interval(secs => $1))
       ORDER BY s.synced_at NULLS FIRST LIMIT $2`,
      [maxAgeSeconds, limit],
    );
    return rows.map((r) => r.id);
  }

  /** Adds a contact of the provider's to the resource (again: no change). */
  async addContact(resourceId: string, email: string, name: string | null = null): Promise<void> {
    await this.pool.query(
      'INSERT INTO resource_contacts (resource_id, email, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
      [resourceId, email, name],
    );
  }
}
