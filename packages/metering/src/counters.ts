import { readFileSync } from 'node:fs';
import type { Redis } from '@meterline/redis';
import { keys } from './keys.ts';
import {
  bucketStart,
  COARSE_BUCKET,
  COARSE_KEEP,
  DAY,
  FINE_BUCKET,
  FINE_KEEP,
  type MonthPeriod,
  monthOf,
} from './period.ts';

const countScript = readFileSync(new URL('./count.lua', import.meta.url), 'utf8');

export interface CountableEvent {
  offset: string;
  id: string;
  metric: string;
  quantity: number;
  timestamp: number;
}

export type CountOutcome = 'counted' | 'counted-before' | 'duplicate';

export interface CountResult {
  /** per event, in input order */
  outcomes: CountOutcome[];
  /** new totals of every (period, metric) the events touched */
  totals: { periodKey: string; metric: string; used: number }[];
}

export interface CounterSettings {
  /** how long a producer retry with the same (resourceId, id) is recognised */
  dedupeWindowSeconds: number;
  /** how long a period's counters are kept after the period ends */
  periodRetentionDays: number;
}

const outcomeOf: Record<string, CountOutcome> = { '1': 'counted', '2': 'counted-before', '0': 'duplicate' };

/** The hot per-resource counters in Redis: calendar-month totals per metric, rolling windows,
 * dedupe state. Redis is a cache of the ledger: recount rebuilds it. */
export class CounterStore {
  constructor(
    private readonly redis: Redis,
    private readonly settings: CounterSettings,
  ) {
    redis.defineCommand('meterlineCount', { lua: countScript });
  }

  /** Applies one resource's events from one partition, in offset order. Atomic per call. */
  async count(
    resourceId: string,
    partitionField: string,
    events: CountableEvent[],
    now: number,
  ): Promise<CountResult> {
    const targets: { key: string; kind: 'h' | 's'; ttl: number }[] = [];
    const index = new Map<string, number>();
    const periodKeyOfTarget = new Map<number, string>();
    const target = (key: string, kind: 'h' | 's', ttl: number) => {
      let i = index.get(key);
      if (i === undefined) {
        targets.push({ key, kind, ttl });
        i = targets.length;
        index.set(key, i);
      }
      return i;
    };
    const perEvent: (string | number)[] = [];
    for (const e of events) {
      const period = monthOf(e.timestamp);
      const pt = target(keys.period(resourceId, period.key), 'h', this.periodTtl(period, now));
      periodKeyOfTarget.set(pt, period.key);
      const fineStart = bucketStart(e.timestamp, FINE_BUCKET);
      const coarseStart = bucketStart(e.timestamp, COARSE_BUCKET);
      const fineTtl = Math.ceil((fineStart + FINE_KEEP - now) / 1000);
      const coarseTtl = Math.ceil((coarseStart + COARSE_KEEP - now) / 1000);
      const ft = fineTtl > 0 ? target(keys.bucket(resourceId, e.metric, 'm5', fineStart), 's', fineTtl) : 0;
      const ct =
        coarseTtl > 0 ? target(keys.bucket(resourceId, e.metric, 'h', coarseStart), 's', coarseTtl) : 0;
      perEvent.push(e.offset, e.quantity, e.metric, pt, ft, ct);
    }
    // One flat argument list (numkeys, KEYS..., ARGV...), built without intermediate copies: this runs
    // once per resource per batch on the hot path.
    const args: (string | number)[] = [1 + events.length + targets.length, keys.applied(resourceId)];
    for (const e of events) args.push(keys.dedupe(resourceId, e.id));
    for (const t of targets) args.push(t.key);
    args.push(
      partitionField,
      this.settings.dedupeWindowSeconds,
      events.length,
      this.settings.periodRetentionDays * 86_400 + 62 * 86_400,
      targets.length,
    );
    for (const t of targets) args.push(t.kind, t.ttl);
    for (const v of perEvent) args.push(v);
    // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds the method at runtime
    const raw = (await (this.redis as any).meterlineCount(args)) as (string | number)[];
    const flags = String(raw[0]);
    const totals: CountResult['totals'] = [];
    for (let i = 1; i + 2 < raw.length; i += 3) {
      totals.push({
        periodKey: periodKeyOfTarget.get(Number(raw[i]))!,
        metric: String(raw[i + 1]),
        used: Number(raw[i + 2]),
      });
    }
    return { outcomes: [...flags].map((f) => outcomeOf[f]!), totals };
  }

  private periodTtl(period: MonthPeriod, now: number): number {
    return Math.max(60, Math.ceil((period.end + this.settings.periodRetentionDays * DAY - now) / 1000));
  }

  /** metric -> used in the period. */
  async periodUsage(resourceId: string, periodKey: string): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(keys.period(resourceId, periodKey));
    return Object.fromEntries(Object.entries(raw).map(([m, v]) => [m, Number(v)]));
  }

  /** Sums of the rolling windows for one metric at `now`. */
  async rollingUsage(
    resourceId: string,
    metric: string,
    now: number,
  ): Promise<{ lastHour: number; last24h: number; last7d: number }> {
    const fine: string[] = [];
    for (let s = bucketStart(now - FINE_KEEP + FINE_BUCKET, FINE_BUCKET); s <= now; s += FINE_BUCKET) {
      fine.push(keys.bucket(resourceId, metric, 'm5', s));
    }
    const coarse: string[] = [];
    for (let s = bucketStart(now - 7 * DAY + COARSE_BUCKET, COARSE_BUCKET); s <= now; s += COARSE_BUCKET) {
      coarse.push(keys.bucket(resourceId, metric, 'h', s));
    }
    const [fineVals, coarseVals] = await Promise.all([this.redis.mget(fine), this.redis.mget(coarse)]);
    const sum = (vals: (string | null)[]) => vals.reduce((acc, v) => acc + (v ? Number(v) : 0), 0);
    return {
      lastHour: sum(fineVals.slice(-12)),
      last24h: sum(coarseVals.slice(-24)),
      last7d: sum(coarseVals),
    };
  }

  /** Replaces a period's totals (recount from the ledger). */
  async setPeriodUsage(
    resourceId: string,
    periodKey: string,
    usage: Record<string, number>,
    ttlSeconds: number,
  ) {
    const key = keys.period(resourceId, periodKey);
    const multi = this.redis.multi().del(key);
    if (Object.keys(usage).length > 0) multi.hset(key, usage).expire(key, ttlSeconds);
    await multi.exec();
  }

  /** Replaces the hourly window buckets of one metric (recount from the ledger). */
  async setHourBuckets(
    resourceId: string,
    metric: string,
    hours: { hour: number; quantity: number }[],
    now: number,
  ) {
    const multi = this.redis.multi();
    for (const { hour, quantity } of hours) {
      const ttl = Math.ceil((hour + COARSE_KEEP - now) / 1000);
      if (ttl > 0) multi.set(keys.bucket(resourceId, metric, 'h', hour), String(quantity), 'EX', ttl);
    }
    await multi.exec();
  }

  periodTtlSeconds(period: MonthPeriod, now: number): number {
    return this.periodTtl(period, now);
  }
}
