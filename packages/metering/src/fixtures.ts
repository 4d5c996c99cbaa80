import type { Pool } from '@meterline/db';
import type { LedgerHour } from './ledger.ts';

/**
 * Fixtures: ledger rows written the way tests, the back-test benchmark and the demo need and no service
 * path does (history that predates the pipeline). Not for the services: they record through UsageLedger.
 */

/** A small seeded PRNG (mulberry32), for the generated usage of tests and the demo: the same seed gives
 * the same numbers, so a run reproduces. */
export function seededRandom(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Adds hours to the ledger (summed into an existing row of the same resource, metric and hour). */
export async function seedLedgerHours(pool: Pool, rows: readonly LedgerHour[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 20_000) {
    const chunk = rows.slice(i, i + 20_000);
    await pool.query(
      `INSERT INTO usage_ledger (resource_id, metric, hour, quantity, events)
       SELECT r, m, to_timestamp(h / 1000), q, 1
       FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::float8[]) AS t(r, m, h, q)
       ON CONFLICT (resource_id, metric, hour)
       DO UPDATE SET quantity = usage_ledger.quantity + excluded.quantity, events = usage_ledger.events + 1`,
      [
        chunk.map((r) => r.resourceId),
        chunk.map((r) => r.metric),
        chunk.map((r) => r.hour),
        chunk.map((r) => r.quantity),
      ],
    );
  }
}

/**
 * Fills every hour in [start, end) of each resource's metrics with a quantity drawn in Postgres:
 * `base * daily curve * noise`, where each resource keeps its own scale in [0.2, 1.8] of `base`. Written
 * a day at a time for every resource, so the table's pages hold the hours in time order as the ingestor
 * leaves them (a resource's quarter spread over the whole table); no row leaves the database.
 */
export async function seedSyntheticLedger(
  pool: Pool,
  opts: { resourceIds: readonly string[]; metrics: Record<string, number>; start: number; end: number },
): Promise<number> {
  let written = 0;
  const metrics = Object.keys(opts.metrics);
  const bases = metrics.map((m) => opts.metrics[m]!);
  // A resource's scale is a function of its id, the same on every day.
  for (let day = opts.start; day < opts.end; day += 86_400_000) {
    const res = await pool.query(
      `INSERT INTO usage_ledger (resource_id, metric, hour, quantity, events)
       SELECT r.id, m.metric, h,
              round((m.base * r.scale * (0.6 + 0.8 * sin(pi() * extract(hour FROM h) / 24)) * (0.75 + random() / 2))::numeric, 2)::float8,
              1
       FROM (SELECT id, 0.2 + 1.6 * ((('x' || substr(md5(id::text), 1, 8))::bit(32)::bigint) / 4294967295.0) AS scale
             FROM unnest($1::uuid[]) AS id) r
       CROSS JOIN unnest($2::text[], $3::float8[]) AS m(metric, base)
       CROSS JOIN generate_series(to_timestamp($4::float8 / 1000), to_timestamp($4::float8 / 1000) + interval '23 hours', interval '1 hour') AS h
       ORDER BY h
       ON CONFLICT (resource_id, metric, hour) DO NOTHING`,
      [opts.resourceIds, metrics, bases, day],
    );
    written += res.rowCount ?? 0;
  }
  return written;
}
