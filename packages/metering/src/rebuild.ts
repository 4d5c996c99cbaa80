import { shardOf } from '@meterline/redis';
import type { CounterStore } from './counters.ts';
import type { UsageLedger } from './ledger.ts';
import { DAY, type MonthPeriod, monthOf } from './period.ts';
import { inChunks, rebuildHourBuckets } from './recount.ts';

export interface RebuildReport {
  /** shards whose counters were rebuilt from the ledger (their generation marker was missing) */
  shards: number[];
  /** resource-metric-period counters written */
  counters: number;
  generation: number;
}

/** The calendar months whose counters Redis still keeps at `now` (a period's hash lives until
 * `retentionDays` after it ended), newest first. */
export function retainedPeriods(now: number, retentionDays: number): MonthPeriod[] {
  const out: MonthPeriod[] = [];
  for (let p = monthOf(now); p.end + retentionDays * DAY > now; p = monthOf(p.start - 1)) out.push(p);
  return out;
}

/** Makes Redis's counters whole again after it lost data (ADR 0011), or gives them their first
 * generation. Holding the ledger's generation exclusively (batches that recorded before are in the
 * ledger; batches recording meanwhile wait), it rebuilds every shard whose generation marker is missing
 * from the ledger (whatever the shard still holds goes first; then the period totals of the retained months and
 * the hourly window buckets of the last 7 days), then
 * moves every shard and the ledger to the next generation: a batch counted before is refused by the
 * ledger and retried. Returns null when every marker already holds the ledger's generation. */
export async function rebuildLostCounters(
  ledger: UsageLedger,
  counters: CounterStore,
  opts: { now?: () => number; retentionDays: number },
): Promise<RebuildReport | null> {
  let report: RebuildReport | null = null;
  await ledger.withGeneration(async (generation, db) => {
    const markers = await counters.shardGenerations();
    if (generation > 0 && markers.every((g) => g === generation)) return null;
    const lost = new Set(markers.flatMap((g, shard) => (g === null ? [shard] : [])));
    const now = (opts.now ?? Date.now)();
    let written = 0;
    if (lost.size > 0) {
      await counters.wipeShards(lost);
      for (const period of retainedPeriods(now, opts.retentionDays)) {
        const totals = await ledger.periodTotals(period.start, period.end, undefined, db);
        const ttl = counters.periodTtlSeconds(period, now);
        const writes: (() => Promise<unknown>)[] = [];
        for (const [resourceId, usage] of totals) {
          if (!lost.has(shardOf(resourceId))) continue;
          writes.push(() => counters.setPeriodUsage(resourceId, period.key, usage, ttl));
          written += Object.keys(usage).length;
        }
        await inChunks(writes);
      }
      await rebuildHourBuckets(ledger, counters, now, { keep: (id) => lost.has(shardOf(id)), db });
    }
    const next = generation + 1;
    await counters.setGeneration(next);
    report = { shards: [...lost].sort((a, b) => a - b), counters: written, generation: next };
    return next;
  });
  return report;
}

/** One rebuild at a time in this process; callers that ask meanwhile wait for the running one. */
export class CounterRebuilder {
  private running: Promise<RebuildReport | null> | null = null;

  constructor(
    private readonly ledger: UsageLedger,
    private readonly counters: CounterStore,
    private readonly opts: { retentionDays: number; onRebuilt?: (report: RebuildReport) => void },
  ) {}

  /** Cheap: rebuilds only when a shard's marker is missing or the shards disagree (no lock taken). */
  async check(): Promise<RebuildReport | null> {
    const markers = await this.counters.shardGenerations();
    if (markers[0] !== null && markers.every((g) => g === markers[0])) return null;
    return this.ensure();
  }

  ensure(): Promise<RebuildReport | null> {
    if (!this.running) {
      this.running = rebuildLostCounters(this.ledger, this.counters, this.opts)
        .then((report) => {
          if (report) this.opts.onRebuilt?.(report);
          return report;
        })
        .finally(() => {
          this.running = null;
        });
    }
    return this.running;
  }
}
