import { readFileSync } from 'node:fs';
import {
  defineVariadicScript,
  groupByShard,
  keyPrefixOf,
  REDIS_SHARDS,
  type Redis,
  redisRunId,
  scanKeys,
  shardOfKey,
} from '@meterline/redis';
import { DAY, type Period, periodOf } from '@meterline/rules';
import { generationKey, keys, resourceKeys } from './keys.ts';
import { bucketStart, COARSE_BUCKET, COARSE_KEEP, FINE_BUCKET, FINE_KEEP, hourOf } from './period.ts';

const countScript = readFileSync(new URL('./count.lua', import.meta.url), 'utf8');

/** A dedupe slot outlives its second window by this much, for clocks of ingestor processes that differ. */
const DEDUPE_SLACK_MS = 60_000;

/** A resource's keys in a call: applied offsets, two dedupe slots, then its targets (count.lua). */
const TARGETS_FROM = 3;

/** A shard's generation marker is missing: Redis lost its data, and nothing may count into it until the
 * counters are rebuilt from the ledger (`CounterRebuilder`). Nothing was written. */
export class CountersLostError extends Error {
  constructor(readonly shards: number[]) {
    super(`Redis lost the counters of shard(s) ${shards.join(', ')}: they are rebuilt from the ledger first`);
    this.name = 'CountersLostError';
  }
}

/** The counters of a batch, and the generation they were counted under (all shards agree on it; null
 * when there was nothing to count). */
export interface CountedBatch {
  results: CountResult[];
  generation: number | null;
}

/** One resource's events from one partition, in offset order, as parallel arrays: the hot path keeps
 * no object per event (a batch's events live across its Redis and Postgres round trips, and objects
 * that survive a young-generation collection are what made the ingestor spend a third of its time in GC). */
export class ResourceEvents {
  readonly ids: string[] = [];
  readonly offsets: string[] = [];
  readonly metrics: string[] = [];
  readonly quantities: number[] = [];
  readonly timestamps: number[] = [];
  /** where each event came from (the caller's index, e.g. into its batch) */
  readonly refs: number[] = [];

  push(id: string, offset: string, metric: string, quantity: number, timestamp: number, ref = 0): void {
    this.ids.push(id);
    this.offsets.push(offset);
    this.metrics.push(metric);
    this.quantities.push(quantity);
    this.timestamps.push(timestamp);
    this.refs.push(ref);
  }

  get length(): number {
    return this.ids.length;
  }

  /** The events at the given positions, in order. */
  pick(positions: number[]): ResourceEvents {
    const out = new ResourceEvents();
    for (const i of positions)
      out.push(
        this.ids[i]!,
        this.offsets[i]!,
        this.metrics[i]!,
        this.quantities[i]!,
        this.timestamps[i]!,
        this.refs[i]!,
      );
    return out;
  }
}

/** The events of one metric in one 5-minute bucket, on one side of the ledger watermark. */
export interface CountedGroup {
  metric: string;
  periodKey: string;
  /** the UTC hour of the bucket (the ledger's row) */
  hour: number;
  /** false when the ledger already holds these offsets (a redelivery below the ledger's watermark) */
  ledgerNew: boolean;
  /** events of the group that exist (counted now, or by an earlier delivery of the same record) */
  events: number;
  /** their summed quantity */
  quantity: number;
  /** the oldest event timestamp of the group */
  oldest: number;
}

export interface CountResult {
  counted: number;
  /** redeliveries of records that were counted before */
  countedBefore: number;
  /** producer retries of ids already counted */
  duplicates: number;
  groups: CountedGroup[];
  /** new totals of every (period, metric) the events touched */
  totals: { periodKey: string; metric: string; used: number }[];
}

export interface CounterSettings {
  /** how long a producer retry with the same (resourceId, id) is recognised, at least */
  dedupeWindowSeconds: number;
  /** how long a period's counters are kept after the period ends */
  periodRetentionDays: number;
}

interface Prepared {
  keys: string[];
  /** the resource's numbers and metric names, comma-separated (count.lua's layout) */
  spec: string;
  events: ResourceEvents;
  groups: Group[];
  /** the period key of each target that is a period hash (by target number) */
  periodKeyOfTarget: string[];
  /** each event's group number (1-based), in offset order */
  eventGroup: number[];
  /** whether the per-event details go with the call (only when the script asks: they cost more to
   * send than everything else, and the script needs them only for events that are not simply new) */
  details: boolean;
  /** ids joined by newlines in one argument, or one argument each */
  joinedIds: boolean;
}

interface Group {
  metric: string;
  fineStart: number;
  ledgerNew: boolean;
  oldest: number;
  events: number;
  quantity: number;
}

/** The hot per-resource counters in Redis: calendar-month totals per metric, rolling windows,
 * dedupe state. Redis is a cache of the ledger: recount rebuilds it. */
export class CounterStore {
  private readonly slotMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly settings: CounterSettings,
  ) {
    defineVariadicScript(redis, 'meterlineCount', countScript);
    this.slotMs = settings.dedupeWindowSeconds * 1000;
  }

  /** Applies one resource's events from one partition (`partitionField` = "topic:partition"), in offset
   * order, atomically. Events at offsets below `ledgerFrom` are already in the ledger: their groups come
   * back with `ledgerNew` false. */
  async count(
    resourceId: string,
    partitionField: string,
    events: ResourceEvents,
    now: number,
    ledgerFrom = 0,
  ): Promise<CountResult> {
    return (await this.countMany(partitionField, [{ resourceId, events }], now, ledgerFrom)).results[0]!;
  }

  /** The generation marker of every shard, null where it is missing (ADR 0011). */
  async shardGenerations(): Promise<(number | null)[]> {
    const values = await Promise.all(
      Array.from({ length: REDIS_SHARDS }, (_, shard) => this.redis.get(generationKey(shard))),
    );
    return values.map((v) => (v === null ? null : Number(v)));
  }

  /** Deletes every counter key of the given shards (totals, window buckets, dedupe ids, applied offsets;
   * not the evaluator's flags), before they are rebuilt from the ledger: a shard whose marker went
   * missing may still hold some of them (an evicted marker), and offsets or ids it remembers for counts
   * the rebuild replaced would make a retried batch count nothing. Returns how many keys went. */
  async wipeShards(shards: Set<number>): Promise<number> {
    const prefix = keyPrefixOf(this.redis);
    let deleted = 0;
    // SCAN patterns and answers carry the full key name: ioredis prefixes neither. The pattern keeps the
    // resources' keys (not the shards' generation markers). On a Cluster every master is scanned, and
    // keys go one DEL each (one DEL of keys in several slots is refused; autopipelining batches them).
    for await (const found of scanKeys(this.redis, `${prefix}{s*}:r:*`)) {
      const doomed: string[] = [];
      for (const full of found) {
        const key = full.slice(prefix.length);
        const shard = shardOfKey(key);
        if (shard !== null && shards.has(shard) && !key.endsWith(':f')) doomed.push(key);
      }
      const gone = await Promise.all(doomed.map((key) => this.redis.del(key)));
      for (const n of gone) deleted += n;
    }
    return deleted;
  }

  /** The Redis server's run_id (`redisRunId`): another one means it restarted or failed over since. */
  redisRunId(): Promise<string | null> {
    return redisRunId(this.redis);
  }

  /** Sets every shard's generation marker: counting into it is allowed from now on. */
  async setGeneration(generation: number): Promise<void> {
    await Promise.all(
      Array.from({ length: REDIS_SHARDS }, (_, shard) =>
        this.redis.set(generationKey(shard), String(generation)),
      ),
    );
  }

  /** `count` for many resources of one partition: one atomic Redis call per shard (the resources whose
   * keys share a hash tag), so a batch of many resources with few events each costs few round trips.
   * Results in input order. Throws `CountersLostError` (nothing written in that shard) when a shard's
   * generation marker is missing, and an error when shards answer with different generations (a
   * rebuild finished meanwhile): the caller retries the batch. */
  async countMany(
    partitionField: string,
    work: { resourceId: string; events: ResourceEvents }[],
    now: number,
    ledgerFrom = 0,
  ): Promise<CountedBatch> {
    const slot = Math.floor(now / this.slotMs);
    // Indices, so that the results come back in input order.
    const byShard = groupByShard(work.keys(), (i) => work[i]!.resourceId);
    // The call's arguments after the resource count (count.lua's layout), the same for every shard.
    const head: (string | number)[] = [
      partitionField,
      this.settings.periodRetentionDays * 86_400 + 62 * 86_400,
      (slot + 2) * this.slotMs + DEDUPE_SLACK_MS,
      ledgerFrom,
    ];
    const results: CountResult[] = new Array(work.length);
    const generations = new Set<number>();
    const lost: number[] = [];
    await Promise.all(
      [...byShard].map(async ([shard, indices]) => {
        const prepared = indices.map((i) =>
          this.prepare(work[i]!.resourceId, shard, work[i]!.events, now, slot, ledgerFrom),
        );
        const keysOf = [generationKey(shard), ...prepared.flatMap((p) => p.keys)];
        let raw = await this.run(keysOf, head, prepared);
        // The script wrote nothing and asks again: an id held a newline (that resource's ids go one
        // argument each), or resources need their per-event details. Each answer adds to the call, so
        // this ends.
        for (let code = Number(raw[0]); code === -1 || code === -2; code = Number(raw[0])) {
          if (code === -1) prepared[Number(raw[1]) - 1]!.joinedIds = false;
          else for (let k = 1; k < raw.length; k++) prepared[Number(raw[k]) - 1]!.details = true;
          raw = await this.run(keysOf, head, prepared);
        }
        if (Number(raw[0]) === -3) {
          lost.push(shard);
          return;
        }
        generations.add(Number(raw[0]));
        let pos = 1;
        prepared.forEach((p, k) => {
          const [result, next] = this.parse(raw, pos, p);
          results[indices[k]!] = result;
          pos = next;
        });
      }),
    );
    if (lost.length > 0) throw new CountersLostError(lost.sort((a, b) => a - b));
    if (generations.size > 1)
      throw new Error(`counter generations changed during the batch (${[...generations].join(', ')})`);
    return { results, generation: [...generations][0] ?? null };
  }

  private run(
    keysOf: string[],
    head: (string | number)[],
    prepared: Prepared[],
  ): Promise<(string | number)[]> {
    const args: (string | number)[] = [keysOf.length];
    for (const k of keysOf) args.push(k);
    args.push(prepared.length);
    for (const v of head) args.push(v);
    let base = 1; // KEYS[1] is the shard's generation marker
    for (const p of prepared) {
      args.push(`${base},${p.spec}`);
      if (p.details)
        args.push('d', p.events.offsets.join(','), p.events.quantities.join(','), p.eventGroup.join(','));
      else args.push('n');
      if (p.joinedIds) args.push('j', p.events.ids.join('\n'));
      else {
        args.push('a');
        for (const id of p.events.ids) args.push(id);
      }
      base += p.keys.length;
    }
    // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds the method at runtime
    return (this.redis as any).meterlineCount(args);
  }

  /** One resource's part of the call: its keys and arguments (count.lua's layout), in one flat list each
   * (this runs once per resource per batch on the hot path). */
  private prepare(
    resourceId: string,
    shard: number,
    events: ResourceEvents,
    now: number,
    slot: number,
    ledgerFrom: number,
  ): Prepared {
    const n = events.length;
    const { groups, eventGroup } = groupEvents(events, ledgerFrom);

    // Dedupe slots of one window each: the current and the previous slot are checked, ids go into the
    // current one, which expires when it stops being the previous one.
    const k = resourceKeys(resourceId, shard);
    const keysOf = [k.applied, k.dedupeSlot(slot), k.dedupeSlot(slot - 1)];
    // Targets: the period hashes and window buckets the groups add to (keysOf[TARGETS_FROM + i - 1] is
    // target i), each with its ttl (seconds). A resource's groups touch a few: found by a scan.
    const ttls: number[] = [];
    const periodKeyOfTarget: string[] = [];
    let groupSpecs = '';
    for (const g of groups) {
      const period = periodOf(g.fineStart);
      const pt = addTarget(keysOf, ttls, k.period(period.key), this.periodTtl(period, now));
      periodKeyOfTarget[pt] = period.key;
      const coarseStart = bucketStart(g.fineStart, COARSE_BUCKET);
      const fineTtl = Math.ceil((g.fineStart + FINE_KEEP - now) / 1000);
      const coarseTtl = Math.ceil((coarseStart + COARSE_KEEP - now) / 1000);
      const ft = fineTtl > 0 ? addTarget(keysOf, ttls, k.bucket(g.metric, 'm5', g.fineStart), fineTtl) : 0;
      const ct = coarseTtl > 0 ? addTarget(keysOf, ttls, k.bucket(g.metric, 'h', coarseStart), coarseTtl) : 0;
      groupSpecs += `,${pt},${g.metric},${ft},${ct},${g.events},${g.quantity}`;
    }
    // The key base goes in front when the call is built (`run`).
    const spec = `${n},${ttls.length},${groups.length},${events.offsets[0]},${events.offsets[n - 1]},${ttls.join(',')}${groupSpecs}`;
    return {
      spec,
      keys: keysOf,
      events,
      groups,
      periodKeyOfTarget,
      eventGroup,
      details: false,
      joinedIds: true,
    };
  }

  /** One resource's part of the script's answer, from `pos`; returns the position after it. */
  private parse(raw: (string | number)[], pos: number, p: Prepared): [CountResult, number] {
    // exact: every event counted now, the groups stand as sent; otherwise the script says per group
    // how many events exist (counted now or before) and their quantity.
    const exact = Number(raw[pos + 3]) === 1;
    const result: CountResult = {
      counted: Number(raw[pos]),
      countedBefore: Number(raw[pos + 1]),
      duplicates: Number(raw[pos + 2]),
      groups: [],
      totals: [],
    };
    let r = pos + 4;
    for (const g of p.groups) {
      result.groups.push({
        metric: g.metric,
        periodKey: periodOf(g.fineStart).key,
        hour: hourOf(g.fineStart),
        ledgerNew: g.ledgerNew,
        events: exact ? g.events : Number(raw[r]),
        quantity: exact ? g.quantity : Number(raw[r + 1]),
        oldest: g.oldest,
      });
      if (!exact) r += 2;
    }
    const totals = Number(raw[r++]);
    for (let k = 0; k < totals; k++, r += 3) {
      result.totals.push({
        periodKey: p.periodKeyOfTarget[Number(raw[r])]!,
        metric: String(raw[r + 1]),
        used: Number(raw[r + 2]),
      });
    }
    return [result, r];
  }

  private periodTtl(period: Period, now: number): number {
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
    const k = resourceKeys(resourceId);
    const fine: string[] = [];
    for (let s = bucketStart(now - FINE_KEEP + FINE_BUCKET, FINE_BUCKET); s <= now; s += FINE_BUCKET) {
      fine.push(k.bucket(metric, 'm5', s));
    }
    const coarse: string[] = [];
    for (let s = bucketStart(now - 7 * DAY + COARSE_BUCKET, COARSE_BUCKET); s <= now; s += COARSE_BUCKET) {
      coarse.push(k.bucket(metric, 'h', s));
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
    const k = resourceKeys(resourceId);
    const multi = this.redis.multi();
    for (const { hour, quantity } of hours) {
      const ttl = Math.ceil((hour + COARSE_KEEP - now) / 1000);
      if (ttl > 0) multi.set(k.bucket(metric, 'h', hour), String(quantity), 'EX', ttl);
    }
    await multi.exec();
  }

  periodTtlSeconds(period: Period, now: number): number {
    return this.periodTtl(period, now);
  }
}

/** The number (1-based) of a target of a resource's call: the key's place among the targets in `keysOf`
 * (after its first TARGETS_FROM keys), added with its ttl when new. A resource's groups touch a few
 * targets, so they are found by a scan. */
function addTarget(keysOf: string[], ttls: number[], key: string, ttl: number): number {
  for (let i = TARGETS_FROM; i < keysOf.length; i++) if (keysOf[i] === key) return i - TARGETS_FROM + 1;
  keysOf.push(key);
  ttls.push(ttl);
  return ttls.length;
}

/** A resource's events in groups: one per (metric, 5-minute bucket, ledger side); the script sums per
 * group, so per-event work stays in the script's loop and everything else is per group. Returns the
 * groups and each event's group number (1-based). A function of its own: it runs per event, and V8
 * keeps it optimised apart from the per-resource code around it. */
function groupEvents(events: ResourceEvents, ledgerFrom: number): { groups: Group[]; eventGroup: number[] } {
  const n = events.length;
  const groups: Group[] = [];
  const eventGroup: number[] = new Array(n);
  const allLedgerNew = Number(events.offsets[0]) >= ledgerFrom;
  // A resource's events of one batch fall into a few groups (its metrics times the 5-minute buckets
  // the batch spans): they are found by a scan from the last one hit, and through a map only when
  // there are many (a backlog of hours). No key is made per event.
  let byKey: Map<string, number> | null = null;
  let last = 0;
  for (let i = 0; i < n; i++) {
    const metric = events.metrics[i]!;
    const ts = events.timestamps[i]!;
    const fineStart = ts - (ts % FINE_BUCKET);
    // Offsets only rise within a call: compared only when the call starts below the watermark.
    const ledgerNew = allLedgerNew || Number(events.offsets[i]) >= ledgerFrom;
    const quantity = events.quantities[i]!;
    let gi = 0;
    const hit = groups[last];
    if (hit && hit.fineStart === fineStart && hit.metric === metric && hit.ledgerNew === ledgerNew)
      gi = last + 1;
    else if (byKey) gi = byKey.get(`${metric}|${fineStart}|${ledgerNew}`) ?? 0;
    else
      for (let k = 0; k < groups.length; k++) {
        const g = groups[k]!;
        if (g.fineStart === fineStart && g.metric === metric && g.ledgerNew === ledgerNew) {
          gi = k + 1;
          break;
        }
      }
    if (gi === 0) {
      groups.push({ metric, fineStart, ledgerNew, oldest: ts, events: 1, quantity });
      gi = groups.length;
      if (byKey) byKey.set(`${metric}|${fineStart}|${ledgerNew}`, gi);
      else if (gi > 16) {
        byKey = new Map();
        for (const [k, g] of groups.entries()) byKey.set(`${g.metric}|${g.fineStart}|${g.ledgerNew}`, k + 1);
      }
    } else {
      const g = groups[gi - 1]!;
      if (ts < g.oldest) g.oldest = ts;
      g.events++;
      g.quantity += quantity;
    }
    last = gi - 1;
    eventGroup[i] = gi;
  }
  return { groups, eventGroup };
}
