import { randomUUID } from 'node:crypto';
import { createRedis, shardOf } from '@meterline/redis';
import { periodOf } from '@meterline/rules';
import { eventually, startOwnRedisServer, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { CounterStore, CountersLostError, ResourceEvents } from './counters.ts';
import { counterFields, generationKey, keys } from './keys.ts';
import { GenerationMismatchError, type LedgerRow, UsageLedger } from './ledger.ts';
import { hourOf } from './period.ts';
import { CounterRebuilder, rebuildLostCounters } from './rebuild.ts';

// The counter generations of ADR 0011 on the real Redis and Postgres.
const FIELD = 'usage.events.v1:0';

const it = worldTest('rebuild');

describe('rebuilding lost counters from the ledger', () => {
  let counters: CounterStore;
  let ledger: UsageLedger;
  it.beforeAll(async ({ world }) => {
    counters = new CounterStore(world.redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
    ledger = new UsageLedger(world.pool, 'rebuild-test');
  });

  const now = Date.now();
  const events = (from: number, to: number) => {
    const out = new ResourceEvents();
    for (let o = from; o <= to; o++) out.push(`e${o}`, String(o), 'api_calls', 1, now - 1000);
    return out;
  };
  /** One batch as the ingestor does it: count, then record (the ledger refuses another generation). */
  const countBatch = (resourceId: string, from: number, to: number) =>
    countBatchInto(counters, ledger, resourceId, from, to);
  const countBatchInto = async (
    counters: CounterStore,
    ledger: UsageLedger,
    resourceId: string,
    from: number,
    to: number,
  ) => {
    const ledgerFrom = await ledger.watermark('usage.events.v1', 0);
    const { results, generation } = await counters.countMany(
      FIELD,
      [{ resourceId, events: events(from, to) }],
      now,
      ledgerFrom,
    );
    const rows: LedgerRow[] = results[0]!.groups
      .filter((g) => g.ledgerNew && g.events > 0)
      .map((g) => ({ resourceId, metric: g.metric, hour: g.hour, quantity: g.quantity, events: g.events }));
    return { record: () => ledger.record('usage.events.v1', 0, ledgerFrom, String(to), rows, generation) };
  };
  const used = async (r: string) => (await counters.periodUsage(r, periodOf(now).key)).api_calls ?? 0;
  const ledgerTotal = async (r: string) =>
    (await ledger.periodTotals(periodOf(now).start, periodOf(now).end, [r])).get(r)?.api_calls ?? 0;

  it('gives the counters their first generation, and refuses to count before it', async () => {
    const r = randomUUID();
    await expect(countBatch(r, 0, 0)).rejects.toBeInstanceOf(CountersLostError);
    const first = await rebuildLostCounters(ledger, counters, { retentionDays: 62 });
    expect(first).toMatchObject({ generation: 1, counters: 0 });
    expect(first!.shards).toHaveLength(128);
    expect(await rebuildLostCounters(ledger, counters, { retentionDays: 62 })).toBeNull();
  });

  it('rebuilds a shard whose marker went missing, and a batch counted before it counts again, once', async ({
    world,
  }) => {
    const r = randomUUID();
    await (await countBatch(r, 10, 12)).record();
    // A batch is counted into Redis, and before it reaches the ledger the shard's marker is evicted.
    const inFlight = await countBatch(r, 13, 14);
    await world.redis.del(generationKey(shardOf(r)));
    expect(await used(r)).toBe(5);
    const report = await rebuildLostCounters(ledger, counters, { retentionDays: 62 });
    expect(report).toMatchObject({ shards: [shardOf(r)], generation: 2 });
    // The shard holds what the ledger holds: the in-flight batch's counts are gone, and so are the
    // offsets and ids that would have made its retry count nothing.
    expect(await used(r)).toBe(3);
    expect(await world.redis.hget(keys.counters(r), counterFields.applied(FIELD))).toBeNull();
    expect(await world.redis.hget(keys.counters(r), counterFields.eventId('e13'))).toBeNull();
    const err = await inFlight.record().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GenerationMismatchError);
    expect((err as GenerationMismatchError).ahead).toBe(false);
    // The retry.
    await (await countBatch(r, 13, 14)).record();
    expect(await used(r)).toBe(5);
    expect(await ledgerTotal(r)).toBe(5);
    // And the hourly window bucket came back from the ledger too.
    const hour = hourOf(now - 1000);
    expect(
      Number(await world.redis.hget(keys.counters(r), counterFields.bucket('api_calls', 'h', hour))),
    ).toBe(5);
  });

  it('rebuilds every counter when Redis restarts holding less than the ledger, and only then', async ({
    world,
  }) => {
    // A Redis of this test's own: restarted from an older snapshot, as after a restore or a failover to
    // a replica that had not received every write. Its markers survive: only the restart tells.
    const server = await startOwnRedisServer();
    const redis = createRedis(server.url);
    redis.on('error', () => {}); // refused while the server restarts; ioredis reconnects
    try {
      const own = new CounterStore(redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
      const ownLedger = new UsageLedger(world.pool, 'restart-test');
      const rebuilder = new CounterRebuilder(ownLedger, own, { retentionDays: 62 });
      const ownUsed = async (r: string) => (await own.periodUsage(r, periodOf(now).key)).api_calls ?? 0;
      expect(await rebuilder.ensure()).toMatchObject({ generation: 1, cause: 'markers-missing' });
      expect(await rebuilder.check()).toBeNull();
      const r = randomUUID();
      await (await countBatchInto(own, ownLedger, r, 0, 2)).record();
      await server.save();
      await (await countBatchInto(own, ownLedger, r, 3, 6)).record();
      expect(await ownUsed(r)).toBe(7);

      await server.restart();
      await eventually(async () => (await redis.ping()) === 'PONG');
      expect(await ownUsed(r), 'the snapshot lacks the second batch').toBe(3);
      const report = await rebuilder.check();
      expect(report).toMatchObject({ cause: 'redis-older', generation: 2 });
      expect(report!.shards).toHaveLength(128);
      expect(await ownUsed(r)).toBe(7);
      expect(await rebuilder.check()).toBeNull();

      // A restart that kept every write: nothing rebuilt or wiped, counting goes on in the same generation.
      await (await countBatchInto(own, ownLedger, r, 7, 7)).record();
      await server.save();
      await server.restart();
      await eventually(async () => (await redis.ping()) === 'PONG');
      expect(await rebuilder.check()).toBeNull();
      expect(
        await redis.hget(keys.counters(r), counterFields.applied(FIELD)),
        'the applied offsets are kept',
      ).toBe('7');
      await (await countBatchInto(own, ownLedger, r, 8, 8)).record();
      expect(await ownUsed(r)).toBe(9);
      expect(await ownLedger.periodTotals(periodOf(now).start, periodOf(now).end, [r])).toEqual(
        new Map([[r, { api_calls: 9 }]]),
      );
    } finally {
      redis.disconnect();
      await server.close();
    }
  });
});
