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
import {
  counterFields,
  generationKey,
  isLowerUuid,
  keys,
  resourceKeys,
  totalsPrefix,
  writeUuid,
} from './keys.ts';
import { bucketStart, COARSE_BUCKET, COARSE_KEEP, FINE_BUCKET, FINE_KEEP, hourOf } from './period.ts';

const countScript = readFileSync(new URL('./count.lua', import.meta.url), 'utf8');

/** Replaces one month's totals in a resource's counters hash (KEYS[1]): ARGV[1] the month's field
 * prefix, ARGV[2] the hash's ttl (s, only ever lengthened), then field/value pairs. */
const setTotalsScript = `
local K = KEYS[1]
local prefix = ARGV[1]
local doomed = {}
for _, f in ipairs(redis.call('HKEYS', K)) do
  if string.sub(f, 1, #prefix) == prefix then doomed[#doomed + 1] = f end
end
for from = 1, #doomed, 2000 do redis.call('HDEL', K, unpack(doomed, from, math.min(#doomed, from + 1999))) end
if #ARGV > 2 then
  redis.call('HSET', K, unpack(ARGV, 3))
  local ttl = tonumber(ARGV[2])
  if redis.call('TTL', K) < ttl then redis.call('EXPIRE', K, ttl) end
end
return #doomed`;

/** One month's totals of a resource's counters hash (KEYS[1]), filtered in Redis: the hash also holds
 * window buckets and dedupe ids (many, for a busy resource). ARGV[1] the month's field prefix. Returns
 * metric/total pairs. */
const totalsScript = `
local prefix = ARGV[1]
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local f = all[i]
  if string.sub(f, 1, #prefix) == prefix then out[#out + 1] = string.sub(f, #prefix + 1); out[#out + 1] = all[i + 1] end
end
return out`;

/** The first 5-minute and hour bucket numbers the rolling windows read at `now` (older ones go). */
const fineFrom = (now: number) => Math.floor((now - FINE_KEEP) / FINE_BUCKET) + 1;
const coarseFrom = (now: number) => Math.floor((now - COARSE_KEEP) / COARSE_BUCKET) + 1;

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
  /** the resource's counters hash */
  key: string;
  /** the resource's numbers and target fields, comma-separated (count.lua's layout) */
  spec: string;
  events: ResourceEvents;
  groups: Group[];
  /** the period key and metric of each target that is a period total (by target number) */
  totalOfTarget: { periodKey: string; metric: string }[];
  /** each event's group number (1-based), in offset order */
  eventGroup: number[];
  /** whether the per-event details go with the call (only when the script asks: they cost more to
   * send than everything else, and the script needs them only for events that are not simply new) */
  details: boolean;
  /** how the id fields go (count.lua): 'u' one argument of 17-byte fields (every id a lower-case
   * UUID), 'j' joined by newlines (none), 'a' one argument each (a mix, or ids that hold newlines) */
  idMode: 'u' | 'j' | 'a';
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
    redis.defineCommand('meterlineSetTotals', { numberOfKeys: 1, lua: setTotalsScript });
    redis.defineCommand('meterlineTotals', { numberOfKeys: 1, lua: totalsScript });
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

  /** Deletes every counter key of the given shards (the resources' counters hashes, and any key of an
   * older layout; not the evaluator's flags), before they are rebuilt from the ledger: a shard whose marker went
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
      slot,
      ledgerFrom,
      fineFrom(now),
      coarseFrom(now),
      // the oldest month still kept (`retainedPeriods`): the one the retention began in
      periodOf(now - this.settings.periodRetentionDays * DAY).key,
    ];
    const results: CountResult[] = new Array(work.length);
    const generations = new Set<number>();
    const lost: number[] = [];
    await Promise.all(
      [...byShard].map(async ([shard, indices]) => {
        const prepared = indices.map((i) =>
          this.prepare(work[i]!.resourceId, shard, work[i]!.events, now, ledgerFrom),
        );
        const keysOf = [generationKey(shard), ...prepared.map((p) => p.key)];
        let raw = await this.run(keysOf, head, prepared);
        // The script wrote nothing and asks again: an id held a newline (that resource's ids go one
        // argument each), or resources need their per-event details. Each answer adds to the call, so
        // this ends.
        for (let code = Number(raw[0]); code === -1 || code === -2; code = Number(raw[0])) {
          if (code === -1) prepared[Number(raw[1]) - 1]!.idMode = 'a';
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
    const args: (string | number | Buffer)[] = [keysOf.length];
    for (const k of keysOf) args.push(k);
    args.push(prepared.length);
    for (const v of head) args.push(v);
    let base = 1; // KEYS[1] is the shard's generation marker
    for (const p of prepared) {
      args.push(`${base},${p.spec}`);
      if (p.details)
        args.push('d', p.events.offsets.join(','), p.events.quantities.join(','), p.eventGroup.join(','));
      else args.push('n');
      if (p.idMode === 'u') args.push('u', uuidFields(p.events.ids));
      else if (p.idMode === 'j') args.push('j', `t${p.events.ids.join('\nt')}`);
      else {
        args.push('a');
        for (const id of p.events.ids) args.push(counterFields.eventId(id));
      }
      base += 1;
    }
    // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds the method at runtime
    return (this.redis as any).meterlineCount(args);
  }

  /** One resource's part of the call: its key and arguments (count.lua's layout), in one flat list
   * (this runs once per resource per batch on the hot path). */
  private prepare(
    resourceId: string,
    shard: number,
    events: ResourceEvents,
    now: number,
    ledgerFrom: number,
  ): Prepared {
    const n = events.length;
    const { groups, eventGroup } = groupEvents(events, ledgerFrom);
    // Targets: the period totals and window buckets the groups add to (fields of the resource's hash,
    // targets[i - 1] is target i). A resource's groups touch a few: found by a scan.
    const targets: string[] = [];
    const totalOfTarget: { periodKey: string; metric: string }[] = [];
    const fineMin = fineFrom(now);
    const coarseMin = coarseFrom(now);
    let expireAt = 0;
    let groupSpecs = '';
    for (const g of groups) {
      const period = periodOf(g.fineStart);
      const pt = addTarget(targets, counterFields.total(period.key, g.metric));
      totalOfTarget[pt] = { periodKey: period.key, metric: g.metric };
      expireAt = Math.max(expireAt, this.periodExpireAt(period, now));
      const coarseStart = bucketStart(g.fineStart, COARSE_BUCKET);
      const ft =
        g.fineStart / FINE_BUCKET >= fineMin
          ? addTarget(targets, counterFields.bucket(g.metric, 'm5', g.fineStart))
          : 0;
      const ct =
        coarseStart / COARSE_BUCKET >= coarseMin
          ? addTarget(targets, counterFields.bucket(g.metric, 'h', coarseStart))
          : 0;
      groupSpecs += `,${pt},${ft},${ct},${g.events},${g.quantity}`;
    }
    // The key base goes in front when the call is built (`run`).
    const spec = `${n},${targets.length},${groups.length},${events.offsets[0]},${events.offsets[n - 1]},${expireAt},${targets.join(',')}${groupSpecs}`;
    return {
      spec,
      key: resourceKeys(resourceId, shard).counters,
      events,
      groups,
      totalOfTarget,
      eventGroup,
      details: false,
      idMode: idModeOf(events.ids),
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
    for (let k = 0; k < totals; k++, r += 2) {
      const { periodKey, metric } = p.totalOfTarget[Number(raw[r])]!;
      result.totals.push({ periodKey, metric, used: Number(raw[r + 1]) });
    }
    return [result, r];
  }

  private periodTtl(period: Period, now: number): number {
    return Math.max(60, Math.ceil((period.end + this.settings.periodRetentionDays * DAY - now) / 1000));
  }

  /** When (unix s) a resource's hash may go at the earliest once it holds a total of `period`. */
  private periodExpireAt(period: Period, now: number): number {
    return Math.ceil(now / 1000) + this.periodTtl(period, now);
  }

  /** metric -> used in the period. */
  async periodUsage(resourceId: string, periodKey: string): Promise<Record<string, number>> {
    // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds the method at runtime
    const raw: string[] = await (this.redis as any).meterlineTotals(
      keys.counters(resourceId),
      totalsPrefix(periodKey),
    );
    const out: Record<string, number> = {};
    for (let i = 0; i < raw.length; i += 2) out[raw[i]!] = Number(raw[i + 1]);
    return out;
  }

  /** Sums of the rolling windows for one metric at `now`. */
  async rollingUsage(
    resourceId: string,
    metric: string,
    now: number,
  ): Promise<{ lastHour: number; last24h: number; last7d: number }> {
    const fine: string[] = [];
    for (let s = bucketStart(now - FINE_KEEP + FINE_BUCKET, FINE_BUCKET); s <= now; s += FINE_BUCKET) {
      fine.push(counterFields.bucket(metric, 'm5', s));
    }
    const coarse: string[] = [];
    for (let s = bucketStart(now - 7 * DAY + COARSE_BUCKET, COARSE_BUCKET); s <= now; s += COARSE_BUCKET) {
      coarse.push(counterFields.bucket(metric, 'h', s));
    }
    const vals = await this.redis.hmget(keys.counters(resourceId), ...fine, ...coarse);
    const sum = (vs: (string | null)[]) => vs.reduce((acc, v) => acc + (v ? Number(v) : 0), 0);
    const fineVals = vals.slice(0, fine.length);
    const coarseVals = vals.slice(fine.length);
    return {
      lastHour: sum(fineVals.slice(-12)),
      last24h: sum(coarseVals.slice(-24)),
      last7d: sum(coarseVals),
    };
  }

  /** Replaces a period's totals (recount from the ledger), atomically; the resource's other fields
   * (other months, window buckets, offsets, dedupe ids) stay. */
  async setPeriodUsage(
    resourceId: string,
    periodKey: string,
    usage: Record<string, number>,
    ttlSeconds: number,
  ) {
    const args: (string | number)[] = [keys.counters(resourceId), totalsPrefix(periodKey), ttlSeconds];
    for (const [metric, used] of Object.entries(usage))
      args.push(counterFields.total(periodKey, metric), used);
    // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds the method at runtime
    await (this.redis as any).meterlineSetTotals(...args);
  }

  /** Replaces the hourly window buckets of one metric (recount from the ledger). */
  async setHourBuckets(
    resourceId: string,
    metric: string,
    hours: { hour: number; quantity: number }[],
    now: number,
  ) {
    const key = keys.counters(resourceId);
    const fields: (string | number)[] = [];
    let ttl = 0;
    for (const { hour, quantity } of hours) {
      const left = Math.ceil((hour + COARSE_KEEP - now) / 1000);
      if (left <= 0) continue;
      fields.push(counterFields.bucket(metric, 'h', hour), String(quantity));
      ttl = Math.max(ttl, left);
    }
    if (fields.length === 0) return;
    // A hash without an expiry (none of its months written yet) gets the buckets' own.
    await this.redis
      .multi()
      .hset(key, ...fields)
      .expire(key, ttl, 'NX')
      .exec();
  }

  periodTtlSeconds(period: Period, now: number): number {
    return this.periodTtl(period, now);
  }
}

/** How a resource's ids go to count.lua (`Prepared.idMode`). */
function idModeOf(ids: string[]): 'u' | 'j' | 'a' {
  let uuids = 0;
  for (const id of ids) if (isLowerUuid(id)) uuids++;
  return uuids === ids.length ? 'u' : uuids === 0 ? 'j' : 'a';
}

/** The id fields of ids that are all lower-case UUIDs, 17 bytes each ('i' and the UUID's bytes), in
 * one buffer. */
function uuidFields(ids: string[]): Buffer {
  const out = Buffer.allocUnsafe(17 * ids.length);
  for (let k = 0; k < ids.length; k++) {
    out[17 * k] = 0x69; // 'i'
    writeUuid(ids[k]!, out, 17 * k + 1);
  }
  return out;
}

/** The number (1-based) of a target field of a resource's call, added when new. A resource's groups
 * touch a few targets, so they are found by a scan. */
function addTarget(targets: string[], field: string): number {
  const i = targets.indexOf(field);
  if (i >= 0) return i + 1;
  targets.push(field);
  return targets.length;
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
