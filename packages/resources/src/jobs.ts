import type { Pool } from '@meterline/db';

export interface PlatformJob {
  resourceId: string;
  kind: 'async_provision' | 'access_sync';
  grantSealed: string | null;
  attempts: number;
}

/** Platform API work after answering Heroku, leased one at a time so several api instances can share it. */
export class PlatformJobs {
  constructor(private readonly pool: Pool) {}

  /** Takes the next due job and leases it for `leaseSeconds`; null when none is due. */
  async claim(leaseSeconds = 60): Promise<PlatformJob | null> {
    const { rows } = await this.pool.query<{
      resource_id: string;
      kind: PlatformJob['kind'];
      grant_sealed: string | null;
      attempts: number;
    }>(
      `UPDATE platform_jobs SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $1)
       WHERE resource_id = (SELECT resource_id FROM platform_jobs WHERE next_attempt_at <= now()
                            ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING resource_id, kind, grant_sealed, attempts`,
      [leaseSeconds],
    );
    const r = rows[0];
    return r
      ? { resourceId: r.resource_id, kind: r.kind, grantSealed: r.grant_sealed, attempts: r.attempts }
      : null;
  }

  /** The grant was exchanged: it must never be used again. */
  async grantUsed(resourceId: string): Promise<void> {
    await this.pool.query('UPDATE platform_jobs SET grant_sealed = NULL WHERE resource_id = $1', [
      resourceId,
    ]);
  }

  async done(resourceId: string): Promise<void> {
    await this.pool.query('DELETE FROM platform_jobs WHERE resource_id = $1', [resourceId]);
  }

  async retryLater(resourceId: string, delayMs: number, error: string): Promise<void> {
    await this.pool.query(
      `UPDATE platform_jobs SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3 WHERE resource_id = $1`,
      [resourceId, delayMs / 1000, error],
    );
  }

  /** No retry can help: kept, with its error, for support to see; never tried again. */
  async giveUp(resourceId: string, error: string): Promise<void> {
    await this.pool.query(
      `UPDATE platform_jobs SET next_attempt_at = 'infinity', last_error = $2 WHERE resource_id = $1`,
      [resourceId, error],
    );
  }

  /** The resource's job as it stands (support's view), or null when there is none. */
  async get(resourceId: string): Promise<(PlatformJob & { lastError: string | null }) | null> {
    const { rows } = await this.pool.query<{
      kind: PlatformJob['kind'];
      grant_sealed: string | null;
      attempts: number;
      last_error: string | null;
    }>('SELECT kind, grant_sealed, attempts, last_error FROM platform_jobs WHERE resource_id = $1', [
      resourceId,
    ]);
    const r = rows[0];
    return r
      ? {
          resourceId,
          kind: r.kind,
          grantSealed: r.grant_sealed,
          attempts: r.attempts,
          lastError: r.last_error,
        }
      : null;
  }
}
