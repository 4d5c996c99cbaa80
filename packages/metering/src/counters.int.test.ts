import { randomBytes, randomUUID } from 'node:crypto';
import { createRedis, keyPrefixOf, type Redis, shardOf } from '@meterline/redis';
import { periodOf } from '@meterline/rules';
import { serviceUrls } from '@meterline/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CounterStore, CountersLostError, ResourceEvents } from './counters.ts';
import { counterFields, generationKey, keys } from './keys.ts';

// The atomic Redis step on the real Redis: each path of count.lua.
const WINDOW_S = 60;
const FIELD = 'usage.events.v1:0';

describe('CounterStore.count on the real Redis', () => {
  let redis: Redis;
  let counters: CounterStore;
  beforeAll(async () => {
    redis = createRedis((await serviceUrls()).redisAddress, {
      keyPrefix: `t:counters_${randomBytes(4).toString('hex')}:`,
    });
    counters = new CounterStore(redis, { dedupeWindowSeconds: WINDOW_S, periodRetentionDays: 62 });
    await counters.setGeneration(1);
  });
  afterAll(async () => redis?.quit());

  // Real time: dedupe slots expire at absolute times.
  const now = Date.now();
  const batch = (...events: [id: string, offset: number, quantity?: number, metric?: string][]) => {
    const out = new ResourceEvents();
    for (const [id, offset, quantity = 1, metric = 'api_calls'] of events)
      out.push(id, String(offset), metric, quantity, now - 1000);
    return out;
  };
  const used = async (r: string) => (await counters.periodUsage(r, periodOf(now).key)).api_calls ?? 0;

  it('counts new events at once, and sums them per metric and 5-minute group for the ledger', async () => {
    const r = randomUUID();
    const events = batch(['a', 1, 2], ['b', 2, 3], ['c', 3, 0.5, 'storage_gb']);
    const result = await counters.count(r, FIELD, events, now);
    expect([result.counted, result.countedBefore, result.duplicates]).toEqual([3, 0, 0]);
    expect(result.groups.map((g) => [g.metric, g.events, g.quantity, g.ledgerNew])).toEqual([
      ['api_calls', 2, 5, true],
      ['storage_gb', 1, 0.5, true],
    ]);
    expect(await used(r)).toBe(5);
    expect(result.totals).toContainEqual({ periodKey: periodOf(now).key, metric: 'api_calls', used: 5 });
  });

  it('adds whole quantities as integers and fractions as floats, on one counter in any order', async () => {
    const r = randomUUID();
    const hash = keys.counters(r);
    const totals: number[] = [];
    let offset = 0;
    for (const quantity of [2, 1, 0.25, 3, 0.75, 4, 1e12]) {
      const result = await counters.count(r, FIELD, batch([`q${offset}`, offset++, quantity]), now);
      totals.push(result.totals[0]!.used);
    }
    expect(totals).toEqual([2, 3, 3.25, 6.25, 7, 11, 1e12 + 11]);
    expect(await redis.hget(hash, counterFields.total(periodOf(now).key, 'api_calls'))).toBe(
      String(1e12 + 11),
    );
    // The window buckets took the same sums.
    const fine = now - 1000 - ((now - 1000) % 300_000);
    expect(Number(await redis.hget(hash, counterFields.bucket('api_calls', 'm5', fine)))).toBe(1e12 + 11);
    expect(await counters.rollingUsage(r, 'api_calls', now)).toEqual({
      lastHour: 1e12 + 11,
      last24h: 1e12 + 11,
      last7d: 1e12 + 11,
    });
  });

  it('counts an id once when it comes twice in one call, and once more in a later call', async () => {
    const r = randomUUID();
    const first = await counters.count(r, FIELD, batch(['a', 1, 2], ['a', 2, 2], ['b', 3, 1]), now);
    expect([first.counted, first.duplicates]).toEqual([2, 1]);
    expect(first.groups[0]).toMatchObject({ events: 2, quantity: 3 });
    const retry = await counters.count(r, FIELD, batch(['a', 4, 2], ['c', 5, 1]), now + 1000);
    expect([retry.counted, retry.duplicates]).toEqual([1, 1]);
    expect(await used(r)).toBe(4);
  });

  it('remembers an id into the next dedupe slot, and no longer than two', async () => {
    const r = randomUUID();
    const slotStart = Math.floor(now / (WINDOW_S * 1000)) * WINDOW_S * 1000;
    await counters.count(r, FIELD, batch(['a', 1]), slotStart + WINDOW_S * 1000 - 1);
    const nextSlot = await counters.count(r, FIELD, batch(['a', 2]), slotStart + 2 * WINDOW_S * 1000 - 1);
    expect(nextSlot.duplicates).toBe(1);
    // Nothing checks a slot two windows old: the id counts again (the window is a lower bound).
    const later = await counters.count(r, FIELD, batch(['a', 3]), slotStart + 3 * WINDOW_S * 1000 + 1);
    expect(later.counted).toBe(1);
    const slot = Math.floor(slotStart / (WINDOW_S * 1000));
    expect(await redis.hget(keys.counters(r), counterFields.eventId('a'))).toBe(String(slot + 3));
    expect(await redis.ttl(keys.counters(r))).toBeGreaterThan(0);
  });

  it('keeps lower-case UUID ids as 16 bytes, and knows them in any mix with other ids', async () => {
    const r = randomUUID();
    const [u1, u2, u3] = [randomUUID(), randomUUID(), randomUUID()];
    const first = await counters.count(r, FIELD, batch([u1, 1], [u2, 2]), now);
    expect(first.counted).toBe(2);
    const field = await redis.hgetBuffer(keys.counters(r), counterFields.eventId(u1));
    expect(counterFields.eventId(u1)).toHaveLength(17);
    expect(field?.toString()).toBe(String(Math.floor(now / (WINDOW_S * 1000))));
    // The same ids beside others (one argument each), and the upper-case form, another id.
    const mixed = await counters.count(
      r,
      FIELD,
      batch([u1, 3], ['plain', 4], [u3, 5], [u2.toUpperCase(), 6]),
      now,
    );
    expect([mixed.counted, mixed.duplicates]).toEqual([3, 1]);
    const again = await counters.count(r, FIELD, batch([u3, 7], [u2, 8], ['plain', 9]), now);
    expect([again.counted, again.duplicates]).toEqual([0, 3]);
    expect(await used(r)).toBe(5);
    // OBJECT takes the full key name (ioredis does not prefix it).
    expect(await redis.object('ENCODING', keyPrefixOf(redis) + keys.counters(r))).toBe('listpack');
  });

  it('drops the buckets, months and ids no window needs once the hash has grown enough', async () => {
    const r = randomUUID();
    const t0 = now - 3 * 3_600_000;
    const at = (ts: number, ...events: [id: string, offset: number][]) => {
      const out = new ResourceEvents();
      for (const [id, offset] of events) out.push(id, String(offset), 'api_calls', 1, ts);
      return out;
    };
    await counters.count(r, FIELD, at(t0, ['old', 1]), t0);
    const fields = async () => (await redis.hkeys(keys.counters(r))).sort();
    const fineOf = (ts: number) => counterFields.bucket('api_calls', 'm5', ts - (ts % 300_000));
    const hourOf = (ts: number) => counterFields.bucket('api_calls', 'h', ts - (ts % 3_600_000));
    expect(await fields()).toEqual(
      [
        fineOf(t0),
        hourOf(t0),
        counterFields.applied(FIELD),
        'told',
        counterFields.total(periodOf(t0).key, 'api_calls'),
      ].sort(),
    );
    // Three hours later, one event: the hash is small, nothing is swept yet.
    await counters.count(r, FIELD, at(now - 60_000, ['new', 2]), now - 60_000);
    expect(await fields()).toContain('told');
    // Forty more: past 32 fields the hash is swept. The old 5-minute bucket and the old id go, the hour
    // bucket stays (7 days), and its size after the sweep is kept for the next one.
    await counters.count(
      r,
      FIELD,
      at(now, ...Array.from({ length: 40 }, (_, i): [string, number] => [`more${i}`, 3 + i])),
      now,
    );
    const kept = await fields();
    expect(Number(await redis.hget(keys.counters(r), 'p'))).toBe(kept.length);
    expect(kept).toContain(hourOf(t0));
    expect(kept).toContain(fineOf(now));
    expect(kept).toContain('tnew');
    expect(kept).not.toContain(fineOf(t0));
    expect(kept).not.toContain('told');
    expect(await counters.rollingUsage(r, 'api_calls', now)).toMatchObject({ lastHour: 41, last24h: 42 });
  });

  it('never counts a redelivered record again, and tells the ledger which of them had counted', async () => {
    const r = randomUUID();
    const events = batch(['a', 10, 1], ['a', 11, 1], ['b', 12, 1]);
    const first = await counters.count(r, FIELD, events, now);
    expect([first.counted, first.duplicates]).toEqual([2, 1]);
    // The same records again (a crash before the offset commit): nothing counts; offsets 10 and 12
    // counted before, 11 was a producer retry and stays out of the ledger.
    const again = await counters.count(r, FIELD, events, now + 500);
    expect([again.counted, again.countedBefore, again.duplicates]).toEqual([0, 2, 1]);
    expect(again.groups[0]).toMatchObject({ events: 2, quantity: 2 });
    expect(await used(r)).toBe(2);
    // Once the ledger holds those offsets (its watermark passed them), their groups say so.
    const late = await counters.count(r, FIELD, events, now + 600, 13);
    expect(late.groups.every((g) => !g.ledgerNew)).toBe(true);
    expect(await used(r)).toBe(2);
  });

  it('takes ids that hold newlines, one argument each', async () => {
    const r = randomUUID();
    const tricky = await counters.count(r, FIELD, batch(['x\n', 1], ['\ny', 2], ['x', 3], ['y', 4]), now);
    expect([tricky.counted, tricky.duplicates]).toEqual([4, 0]);
    const again = await counters.count(r, FIELD, batch(['x\n', 5], ['y', 6]), now);
    expect([again.counted, again.duplicates]).toEqual([0, 2]);
    expect(await used(r)).toBe(4);
  });

  it('counts a batch larger than one Lua unpack', async () => {
    const r = randomUUID();
    const events = new ResourceEvents();
    for (let i = 0; i < 5000; i++) events.push(`e${i % 4500}`, String(i), 'api_calls', 1, now - 1000);
    const result = await counters.count(r, FIELD, events, now);
    expect([result.counted, result.duplicates]).toEqual([4500, 500]);
    expect(await used(r)).toBe(4500);
  });

  it('counts many resources in one call per shard, each on its own, results in input order', async () => {
    const ids = Array.from({ length: 300 }, () => randomUUID());
    expect(new Set(ids.map(shardOf)).size).toBeLessThan(ids.length); // some share a shard, hence a call
    const work = ids.map((resourceId, i) => ({
      resourceId,
      // one resource's ids hold newlines: its part of the call is sent again, one argument per id
      events:
        i === 150 ? batch(['p\n', 1], ['\nq', 2], ['p', 3]) : batch(['a', i * 10], ['b', i * 10 + 1, i]),
    }));
    const { results, generation } = await counters.countMany(FIELD, work, now);
    expect(generation).toBe(1);
    results.forEach((result, i) => {
      expect(result.counted).toBe(i === 150 ? 3 : 2);
      expect(result.totals[0]?.used).toBe(i === 150 ? 3 : 1 + i);
    });
    for (const [i, r] of ids.entries()) expect(await used(r)).toBe(i === 150 ? 3 : 1 + i);
    const again = (await counters.countMany(FIELD, work, now)).results;
    expect(again.every((r) => r.counted === 0 && r.countedBefore === (r.groups[0]?.events ?? -1))).toBe(true);
  });

  it('counts exactly when some resources of a call need their per-event details and others do not', async () => {
    // Three resources of one shard, so one script call: it first runs without the per-event details,
    // asks for them for the two that need them, and must leave nothing of that first run behind.
    const shard = shardOf(randomUUID());
    const [plain, twice, redelivered] = Array.from({ length: 3 }, () => {
      for (;;) {
        const r = randomUUID();
        if (shardOf(r) === shard) return r;
      }
    });
    await counters.count(redelivered!, FIELD, batch(['x', 10, 5]), now);
    const work = [
      { resourceId: plain!, events: batch(['a', 20, 1], ['b', 21, 2]) },
      { resourceId: twice!, events: batch(['a', 22, 1], ['a', 23, 1], ['c', 24, 4]) },
      { resourceId: redelivered!, events: batch(['x', 10, 5], ['y', 25, 7]) },
    ];
    const { results } = await counters.countMany(FIELD, work, now);
    expect(results.map((r) => [r.counted, r.countedBefore, r.duplicates])).toEqual([
      [2, 0, 0],
      [2, 0, 1],
      [1, 1, 0],
    ]);
    expect([await used(plain!), await used(twice!), await used(redelivered!)]).toEqual([3, 5, 12]);
    const slot = String(Math.floor(now / (WINDOW_S * 1000)));
    const idFields = async (r: string) =>
      (await redis.hkeysBuffer(keys.counters(r))).filter((f) => f[0] === 't'.charCodeAt(0)).length;
    expect(
      await redis.hmget(keys.counters(plain!), counterFields.eventId('a'), counterFields.eventId('b')),
    ).toEqual([slot, slot]);
    expect(await idFields(plain!)).toBe(2);
    expect(await idFields(twice!)).toBe(2);
  });

  it('counts nothing into a shard whose generation marker is missing (Redis lost its data)', async () => {
    const r = randomUUID();
    await redis.del(generationKey(shardOf(r)));
    try {
      const other = randomUUID();
      const work = [
        { resourceId: r, events: batch(['a', 1, 5]) },
        { resourceId: other, events: batch(['a', 1, 5]) },
      ];
      const err = await counters.countMany(FIELD, work, now).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CountersLostError);
      expect((err as CountersLostError).shards).toEqual([shardOf(r)]);
      expect(await used(r)).toBe(0);
      expect(await redis.exists(keys.counters(r))).toBe(0);
    } finally {
      await counters.setGeneration(1);
    }
    expect((await counters.count(r, FIELD, batch(['a', 1, 5]), now)).counted).toBe(1);
  });

  it("takes every offset below the ledger's watermark as counted, even when the applied offsets are gone", async () => {
    const r = randomUUID();
    await counters.count(r, FIELD, batch(['a', 10, 1], ['b', 11, 2], ['c', 12, 4]), now);
    // Redis lost the resource's data; the ledger holds offsets 10 and 11 (watermark 12) and the counters
    // were rebuilt from it. The batch comes again: only offset 12 counts.
    await redis.del(keys.counters(r));
    await counters.setPeriodUsage(r, periodOf(now).key, { api_calls: 3 }, 3600);
    const again = await counters.count(r, FIELD, batch(['a', 10, 1], ['b', 11, 2], ['c', 12, 4]), now, 12);
    expect([again.counted, again.countedBefore]).toEqual([1, 2]);
    expect(await used(r)).toBe(7);
  });
});
