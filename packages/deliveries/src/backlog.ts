import type { Pool } from '@meterline/db';

/** The notifier's outstanding work and what went wrong lately, over every resource. */
export interface DeliveryBacklog {
  /** recorded and not yet accepted or refused by the SMTP server (retries included) */
  pending: number;
  /** of those, the ones whose last attempt failed and wait for a retry */
  retrying: number;
  /** when the oldest pending delivery was recorded; null when none is pending */
  oldestPendingAt: Date | null;
  /** refused for good, ever */
  failed: number;
  /** refused for good since `since`, by the reason recorded (the SMTP server's answer, a bad address) */
  recentFailures: { reason: string; deliveries: number; lastAt: Date }[];
}

/** How many deliveries are pending and failed, and the recent failures by reason (the console's
 * pipeline health, the api's metrics). The pending ones are found through the partial index. */
export async function deliveryBacklog(pool: Pool, since: Date | number): Promise<DeliveryBacklog> {
  const [pending, failed, recent] = await Promise.all([
    pool.query(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE attempts > 0)::int AS retrying, min(created_at) AS oldest
       FROM deliveries WHERE state = 'pending'`,
    ),
    pool.query(`SELECT count(*)::int AS n FROM deliveries WHERE state = 'failed'`),
    pool.query(
      `SELECT coalesce(last_error, '(no reason recorded)') AS reason, count(*)::int AS n, max(failed_at) AS last_at
       FROM deliveries WHERE state = 'failed' AND failed_at >= $1
       GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`,
      [new Date(since)],
    ),
  ]);
  return {
    pending: pending.rows[0].n,
    retrying: pending.rows[0].retrying,
    oldestPendingAt: pending.rows[0].oldest,
    failed: failed.rows[0].n,
    recentFailures: recent.rows.map((r) => ({ reason: r.reason, deliveries: r.n, lastAt: r.last_at })),
  };
}
