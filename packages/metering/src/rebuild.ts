import { shardOf } from '@meterline/redis';
import { DAY, type Period, periodOf } from '@meterline/rules';
import type { Logger } from '@meterline/runtime';
import type { CounterStore } from './counters.ts';
import type { Db, UsageLedger } from './ledger.ts';
import { findDrift, inChunks, rebuildHourBuckets } from './recount.ts';

export interface RebuildReport {
  /** shards whose counters were rebuilt from the ledger */
  shards: number[];
  /** resource-metric-period counters written */
  counters: number;
  generation: number;
  /** why: shards' generation markers were missing (lost data, or the first start), or Redis restarted
   * (another run_id) holding less than the ledger for some counter (it came back older) */
  cause: 'markers-missing' | 'redis-older';
}

/** The calendar months whose counters Redis still keeps at `now` (a period's hash lives until
 * `retentionDays` after it ended), newest first. */
export function retainedPeriods(now: number, retentionDays: number): Period[] {
  const out: Period[] = [];
  for (let p = periodOf(now); p.end + retentionDays * DAY > now; p = periodOf(p.start - 1)) out.push(p);
  return out;
}

/** Makes Redis's counters whole again after it lost data (ADR 0011), or gives them their first
 * generation. Holding the ledger's generation exclusively (batches that recorded before are in the
 * ledger; batches recording meanwhile wait), it rebuilds from the ledger every shard whose generation
 * marker is missing - or every shard, when Redis restarted since the last check (another run_id) and
 * holds less than the ledger for some counter: it came back older (a snapshot, a replica promoted before
 * it had every write), markers and all. Whatever a rebuilt shard still holds goes first; then the period
 * totals of the retained months and the hourly window buckets of the last 7 days are written, and every
 * shard and the ledger move to the next generation: a batch counted before is refused by the ledger and
 * retried. Returns null when nothing was rebuilt. */
export async function rebuildLostCounters(
  ledger: UsageLedger,
  counters: CounterStore,
  opts: { now?: () => number; retentionDays: number },
): Promise<RebuildReport | null> {
  let report: RebuildReport | null = null;
  await ledger.withGeneration(async ({ generation, redisRunId }, db) => {
    const markers = await counters.shardGenerations();
    const runId = await counters.redisRunId();
    const now = (opts.now ?? Date.now)();
    const restarted = redisRunId !== null && runId !== null && runId !== redisRunId;
    const intact = generation > 0 && markers.every((g) => g === generation);
    // A restarted Redis may have come back older, markers and all: compare it with the ledger.
    const older =
      restarted && generation > 0 && (await behindLedger(ledger, counters, now, opts.retentionDays, db));
    if (intact && !older) {
      // Nothing lost (or a restart that kept every write): only remember which Redis this is.
      return runId === redisRunId ? null : { generation, redisRunId: runId };
    }
    const cause: RebuildReport['cause'] = older ? 'redis-older' : 'markers-missing';
    const lost = new Set(older ? markers.keys() : markers.flatMap((g, shard) => (g === null ? [shard] : [])));
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
    report = { shards: [...lost].sort((a, b) => a - b), counters: written, generation: next, cause };
    return { generation: next, redisRunId: runId };
  });
  return report;
}

/** Whether Redis holds less than the ledger for some counter of the retained months. Redis counts a batch
 * before the ledger records it, so it never does unless it lost writes the ledger kept. Read on the
 * rebuild's locked connection (no batch records meanwhile). */
async function behindLedger(
  ledger: UsageLedger,
  counters: CounterStore,
  now: number,
  retentionDays: number,
  db: Db,
): Promise<boolean> {
  for (const period of retainedPeriods(now, retentionDays)) {
    const drift = await findDrift(ledger, counters, period, undefined, db);
    if (drift.some((d) => d.redis < d.ledger)) return true;
  }
  return false;
}

/** One rebuild at a time in this process; callers that ask meanwhile wait for the running one. */
export class CounterRebuilder {
  private running: Promise<RebuildReport | null> | null = null;

  constructor(
    private readonly ledger: UsageLedger,
    private readonly counters: CounterStore,
    private readonly opts: { retentionDays: number; onRebuilt?: (report: RebuildReport) => void },
  ) {}

  /** The Redis run_id seen at the last check that went through the ledger. */
  private checkedRunId: string | null = null;

  /** Cheap: goes to the ledger (and may rebuild) only when a shard's marker is missing, the shards
   * disagree, or Redis restarted since the last time (another run_id); no lock taken otherwise. */
  async check(): Promise<RebuildReport | null> {
    const [markers, runId] = await Promise.all([
      this.counters.shardGenerations(),
      this.counters.redisRunId(),
    ]);
    const whole = markers[0] !== null && markers.every((g) => g === markers[0]);
    if (whole && runId === this.checkedRunId) return null;
    const report = await this.ensure();
    this.checkedRunId = runId;
    return report;
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

/**
 * The ingestor's two watches over its counters, until `stop()`: every 5 s whether Redis lost data while
 * no events came (noticed then, not at the next event); and every `reconcileIntervalSeconds` (0: never)
 * how far Redis has drifted from the ledger this month, reported through `onDrift` (a metric, no
 * correction: `pnpm recount` corrects). Batches in flight show as small transient drift.
 */
export function watchCounters(w: {
  ledger: UsageLedger;
  counters: CounterStore;
  rebuilder: CounterRebuilder;
  log: Logger;
  reconcileIntervalSeconds: number;
  onDrift: (resources: number) => void;
}): { stop(): void } {
  const reconcile =
    w.reconcileIntervalSeconds > 0
      ? setInterval(() => {
          findDrift(w.ledger, w.counters, periodOf(Date.now()))
            .then((diffs) => {
              w.onDrift(diffs.length);
              if (diffs.length > 0)
                w.log.warn({ drift: diffs.slice(0, 10), total: diffs.length }, 'counter drift found');
            })
            .catch((err: unknown) => w.log.warn({ err }, 'reconciliation failed'));
        }, w.reconcileIntervalSeconds * 1000)
      : null;
  reconcile?.unref();
  const generations = setInterval(() => {
    w.rebuilder.check().catch((err: unknown) => w.log.warn({ err }, 'counter generation check failed'));
  }, 5_000);
  generations.unref();
  return {
    stop() {
      if (reconcile) clearInterval(reconcile);
      clearInterval(generations);
    },
  };
}
