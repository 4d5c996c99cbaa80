import type { Period } from '@meterline/rules';
import type { CounterStore } from './counters.ts';
import type { Db, UsageLedger } from './ledger.ts';
import { COARSE_KEEP } from './period.ts';

export interface CounterDifference {
  resourceId: string;
  metric: string;
  periodKey: string;
  redis: number;
  ledger: number;
}

const EPSILON = 1e-6;

/** Compares the Redis counters of a period with the ledger (read through `db`: the pool, or a
 * transaction's client), a few hundred resources at a time; differences in resource order. */
export async function findDrift(
  ledger: UsageLedger,
  counters: CounterStore,
  period: Period,
  resourceIds?: string[],
  db?: Db,
): Promise<CounterDifference[]> {
  const truth = await ledger.periodTotals(period.start, period.end, resourceIds, db);
  const ids = resourceIds ?? [...truth.keys()];
  const byResource: CounterDifference[][] = [];
  await inChunks(
    ids.map((resourceId, i) => async () => {
      const want = truth.get(resourceId) ?? {};
      const have = await counters.periodUsage(resourceId, period.key);
      const diffs: CounterDifference[] = [];
      for (const metric of new Set([...Object.keys(want), ...Object.keys(have)])) {
        const l = want[metric] ?? 0;
        const r = have[metric] ?? 0;
        if (Math.abs(l - r) > EPSILON * Math.max(1, Math.abs(l))) {
          diffs.push({ resourceId, metric, periodKey: period.key, redis: r, ledger: l });
        }
      }
      byResource[i] = diffs;
    }),
  );
  return byResource.flat();
}

/** Rebuilds the counters of a period (and the hourly window buckets of the last 7 days) from the
 * ledger, and reports each difference it corrected. */
export async function recount(
  ledger: UsageLedger,
  counters: CounterStore,
  period: Period,
  now: number,
  resourceIds?: string[],
): Promise<CounterDifference[]> {
  const diffs = await findDrift(ledger, counters, period, resourceIds);
  const truth = await ledger.periodTotals(period.start, period.end, [
    ...new Set(diffs.map((d) => d.resourceId)),
  ]);
  for (const resourceId of new Set(diffs.map((d) => d.resourceId))) {
    await counters.setPeriodUsage(
      resourceId,
      period.key,
      truth.get(resourceId) ?? {},
      counters.periodTtlSeconds(period, now),
    );
  }
  await rebuildHourBuckets(ledger, counters, now, { resourceIds });
  return diffs;
}

/** Writes the hourly window buckets of the last 7 days from the ledger, for the given resources (all by
 * default) or those `keep` accepts, a few hundred writes at a time. */
export async function rebuildHourBuckets(
  ledger: UsageLedger,
  counters: CounterStore,
  now: number,
  opts: { resourceIds?: string[]; keep?: (resourceId: string) => boolean; db?: Db } = {},
): Promise<void> {
  const byMetric = new Map<string, { hour: number; quantity: number }[]>();
  for (const h of await ledger.hoursSince(now - COARSE_KEEP, opts.resourceIds, opts.db)) {
    if (opts.keep && !opts.keep(h.resourceId)) continue;
    const k = `${h.resourceId}|${h.metric}`;
    const list = byMetric.get(k) ?? [];
    list.push({ hour: h.hour, quantity: h.quantity });
    byMetric.set(k, list);
  }
  await inChunks(
    [...byMetric].map(([k, list]) => {
      const [resourceId, metric] = k.split('|') as [string, string];
      return () => counters.setHourBuckets(resourceId, metric, list, now);
    }),
  );
}

/** Runs the calls a few hundred at a time (each is one round trip). */
export async function inChunks(writes: (() => Promise<unknown>)[], size = 256): Promise<void> {
  for (let i = 0; i < writes.length; i += size) await Promise.all(writes.slice(i, i + size).map((w) => w()));
}
