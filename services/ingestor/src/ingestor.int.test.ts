import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createKafka, createRegistry, type KafkaMessage, sendAll } from '@meterline/kafka';
import {
  type CounterChange,
  CounterStore,
  keys,
  ledgerEventCount,
  ledgerTotals,
  recordedPartitions,
  recount,
  UsageLedger,
} from '@meterline/metering';
import { shardOf } from '@meterline/redis';
import { periodOf } from '@meterline/rules';
import { createLogger } from '@meterline/runtime';
import { avroSchema } from '@meterline/schemas';
import {
  eventually,
  seedResource,
  startServiceProcess,
  type TestWorld,
  tailTopic,
  worldTest,
} from '@meterline/test/support';
import { UsageClient } from '@meterline/usage-client';
import { describe, expect } from 'vitest';
import { readIngestorConfig } from './config.ts';
import { type RunningIngestor, startIngestor } from './wire.ts';

const log = createLogger('test', { level: 'warn' });
const period = (ts: number) => periodOf(ts).key;

async function readUsage(
  world: TestWorld,
  resourceId: string,
  at = Date.now(),
): Promise<Record<string, number>> {
  const counters = new CounterStore(world.redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
  return counters.periodUsage(resourceId, period(at));
}

function producerFor(world: TestWorld) {
  const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: `p-${world.id}` }, log);
  return kafka.producer({ idempotent: true });
}

async function readAll(
  world: TestWorld,
  topic: string,
  expected: number,
  timeoutMs = 30_000,
): Promise<KafkaMessage[]> {
  const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: `r-${world.id}` }, log);
  const consumer = kafka.consumer({
    groupId: `${world.groupPrefix}reader-${randomBytes(3).toString('hex')}`,
  });
  const got: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
  await eventually(async () => got.length >= expected, {
    timeoutMs,
    what: `${expected} messages on ${topic}`,
  });
  await consumer.disconnect();
  return got;
}

// The first describe's tests share a world. The later tests flood, crash or regroup theirs: a fresh world
// each, closed when the test ends.
const stackTest = worldTest('ingest');
const ownWorldTest = worldTest('ingestown', { scope: 'test' });
const sixPartitionsTest = worldTest('group', { partitions: 6, scope: 'test' });

describe('ingestor on the real stack', () => {
  const it = stackTest;
  let ingestor: RunningIngestor;

  it.beforeAll(async ({ world }) => {
    // A grace long enough that the previous month still takes late events, whatever today's date.
    ingestor = await startIngestor(
      readIngestorConfig({ ...world.env, INGESTOR_PORT: '0', LATE_GRACE_HOURS: '1000' }),
      log,
    );
    await ingestor.joined;
  });
  it.afterAll(async () => {
    await ingestor?.stop();
  });

  it('sends each kind of bad input to the DLQ with its reason and counts nothing', async ({ world }) => {
    const live = await seedResource(world.pool);
    const gone = await seedResource(world.pool, {
      state: 'deprovisioned',
      deprovisionedAt: new Date(Date.now() - 3_600_000),
    });
    const unknown = randomUUID();
    const registry = createRegistry(world.urls.registryUrl);
    const { id: schemaId } = await registry.register(
      { type: 'AVRO' as never, schema: JSON.stringify(avroSchema('UsageEvent')) },
      { subject: `${world.topics.usageEvents}-value` },
    );
    const now = Date.now();
    const ev = (over: Record<string, unknown>) => ({
      id: randomUUID(),
      resourceId: live,
      metric: 'api_calls',
      quantity: 1,
      timestamp: now,
      source: null,
      ...over,
    });
    const json = (o: unknown) => Buffer.from(JSON.stringify(o));
    const wrongMagic = await registry.encode(schemaId, ev({}));
    wrongMagic[0] = 1;
    const unknownSchema = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), randomBytes(20)]);
    // Each record is keyed by the resource its value names, as the contract says, unless `key` is given.
    const cases: { name: string; value: Buffer; reason: string; key?: string }[] = [
      {
        name: 'random bytes',
        value: Buffer.concat([Buffer.from([0x93]), randomBytes(63)]),
        reason: 'undecodable',
      },
      { name: 'wrong magic byte', value: wrongMagic, reason: 'undecodable' },
      { name: 'unknown schema id', value: unknownSchema, reason: 'unknown-schema' },
      {
        name: 'missing field',
        value: json({ id: 'x', resourceId: live, quantity: 1, timestamp: now }),
        reason: 'invalid-field',
      },
      { name: 'string quantity', value: json(ev({ quantity: '5' })), reason: 'invalid-field' },
      { name: 'negative quantity', value: json(ev({ quantity: -1 })), reason: 'quantity-out-of-range' },
      {
        name: 'NaN quantity',
        value: await registry.encode(schemaId, ev({ quantity: Number.NaN })),
        reason: 'quantity-out-of-range',
      },
      { name: 'absurd quantity', value: json(ev({ quantity: 1e15 })), reason: 'quantity-out-of-range' },
      {
        name: 'unknown resource',
        value: json(ev({ resourceId: unknown })),
        reason: 'unknown-resource',
        key: unknown,
      },
      {
        name: 'deprovisioned resource',
        value: json(ev({ resourceId: gone })),
        reason: 'resource-not-provisioned',
        key: gone,
      },
      // A live resource's event filed under another resource's key, in JSON and in Avro.
      { name: 'key of another resource', value: json(ev({})), reason: 'key-mismatch', key: gone },
      {
        name: 'Avro under a key that is no resource',
        value: await registry.encode(schemaId, ev({})),
        reason: 'key-mismatch',
        key: 'tenant-a',
      },
      {
        name: 'far-future timestamp',
        value: json(ev({ timestamp: now + 86_400_000 })),
        reason: 'timestamp-in-future',
      },
      {
        name: 'before the grace',
        value: json(ev({ timestamp: Date.UTC(2020, 0, 15) })),
        reason: 'timestamp-too-old',
      },
    ];
    const producer = producerFor(world);
    await producer.connect();
    await producer.send({
      topic: world.topics.usageEvents,
      messages: cases.map((c) => ({ key: c.key ?? live, value: c.value, headers: { case: c.name } })),
    });
    // Good events after all of them prove the partition moved on: one keyed by its resource (an upper-case
    // key is the same uuid), one without a key, which the contract leaves open and which counts.
    await producer.send({
      topic: world.topics.usageEvents,
      messages: [
        { key: live.toUpperCase(), value: json(ev({ quantity: 7 })) },
        { key: null, value: json(ev({ quantity: 5 })) },
      ],
    });
    await producer.disconnect();

    const dlq = await readAll(world, world.topics.dlq, cases.length);
    expect(dlq).toHaveLength(cases.length);
    for (const c of cases) {
      const m = dlq.find((d) => d.headers?.case?.toString() === c.name);
      expect(m, c.name).toBeDefined();
      expect(m!.headers!['dlq-reason']!.toString(), c.name).toBe(c.reason);
      expect(m!.headers!['dlq-error']!.toString().length, c.name).toBeGreaterThan(0);
      expect(m!.headers!['dlq-topic']!.toString()).toBe(world.topics.usageEvents);
      expect(m!.headers!['dlq-partition']).toBeDefined();
      expect(m!.headers!['dlq-offset']).toBeDefined();
      expect(Buffer.compare(m!.value!, c.value), `${c.name}: bytes unchanged`).toBe(0);
      expect(m!.key!.toString()).toBe(c.key ?? live);
    }
    await eventually(async () => (await readUsage(world, live)).api_calls === 12, {
      what: 'the good events counted',
    });
    expect(await readUsage(world, live)).toEqual({ api_calls: 12 });
    expect(await readUsage(world, unknown)).toEqual({});
    expect(await readUsage(world, gone)).toEqual({});
  });

  it('counts plain JSON produced with kcat, the path for producers without the registry', async ({
    world,
  }) => {
    const r = await seedResource(world.pool);
    const lines = [
      `${r}|${JSON.stringify({ id: 'kcat-1', resourceId: r, metric: 'api_calls', quantity: 3, timestamp: new Date().toISOString() })}`,
      `${r}|${JSON.stringify({ id: 'kcat-2', resourceId: r, metric: 'api_calls', quantity: 4, timestamp: Date.now(), source: 'kcat' })}`,
    ];
    const kcat = spawnSync(
      'kcat',
      ['-P', '-b', world.urls.kafkaBrokers.join(','), '-t', world.topics.usageEvents, '-K', '|'],
      {
        input: `${lines.join('\n')}\n`,
        encoding: 'utf8',
      },
    );
    expect(kcat.error, 'kcat must be installed (Debian package kcat; .ci/run installs it)').toBeUndefined();
    expect(kcat.status, kcat.stderr).toBe(0);
    await eventually(async () => (await readUsage(world, r)).api_calls === 7, {
      what: 'the kcat events counted',
    });
    // Ops see how far behind each partition is.
    const metrics = await (await fetch(`http://127.0.0.1:${ingestor.opsPort}/metrics`)).text();
    expect(metrics).toMatch(/^meterline_ingest_partition_lag\{partition="\d+",service="ingestor"\} \d+$/m);
    // and how much the resource cache holds: at least this resource.
    const known = /^meterline_ingest_resource_cache\{kind="known",service="ingestor"\} (\d+)$/m.exec(metrics);
    expect(known, metrics).not.toBeNull();
    expect(Number(known![1])).toBeGreaterThanOrEqual(1);
  });

  it('counts the same event sent three times once, and puts events in the month they happened', async ({
    world,
  }) => {
    const r = await seedResource(world.pool);
    const client = await UsageClient.connect({
      brokers: world.urls.kafkaBrokers,
      registryUrl: world.urls.registryUrl,
      topic: world.topics.usageEvents,
    });
    const now = Date.now();
    const start = periodOf(now).start;
    for (let i = 0; i < 3; i++)
      await client.emit({ id: 'same-id', resourceId: r, metric: 'api_calls', quantity: 5, timestamp: now });
    // Across the boundary: the last millisecond of the previous month and the first of this one.
    await client.emit({ resourceId: r, metric: 'storage_gb', quantity: 2, timestamp: start - 1 });
    await client.emit({ resourceId: r, metric: 'storage_gb', quantity: 3, timestamp: start });
    await client.close();
    await eventually(async () => (await readUsage(world, r)).storage_gb === 3, {
      what: 'boundary events counted',
    });
    await eventually(async () => (await readUsage(world, r, start - 1)).storage_gb === 2);
    expect(await readUsage(world, r)).toEqual({ api_calls: 5, storage_gb: 3 });
    expect(await readUsage(world, r, start - 1)).toEqual({ storage_gb: 2 });
    // The ledger commits just after Redis within the same batch: wait for it, then compare.
    const ledgerRows = async () =>
      Object.entries((await ledgerTotals(world.pool, { resourceIds: [r] })).get(r) ?? {})
        .map(([metric, q]) => ({ metric, q }))
        .sort((a, b) => (a.metric < b.metric ? -1 : 1));
    await eventually(async () => (await ledgerRows()).find((x) => x.metric === 'storage_gb')?.q === 5, {
      what: 'the ledger rows',
    });
    expect(await ledgerRows()).toEqual([
      { metric: 'api_calls', q: 5 },
      { metric: 'storage_gb', q: 5 },
    ]);
    // The evaluator was told: the changes of r arrive in arrays under its shard's key, the last
    // total of each counter being what Redis holds.
    const tail = await tailTopic<CounterChange[]>(world, world.topics.counters);
    try {
      const latest = new Map<string, number>();
      await eventually(
        async () => {
          for (const [i, m] of tail.messages.entries()) {
            const mine = tail.values[i]!.filter((c) => c.resourceId === r);
            if (mine.length === 0) continue;
            expect(m.key?.toString()).toBe(String(shardOf(r)));
            for (const c of mine) latest.set(`${c.metric} ${c.periodKey}`, c.used);
          }
          return latest.size === 3;
        },
        { what: 'the counter changes of r' },
      );
      expect(Object.fromEntries(latest)).toEqual({
        [`api_calls ${period(now)}`]: 5,
        [`storage_gb ${period(now)}`]: 3,
        [`storage_gb ${period(start - 1)}`]: 2,
      });
    } finally {
      await tail.stop();
    }
  });
});

describe('ingestor: a flood of bad events', () => {
  ownWorldTest(
    'sends a whole fetch of bad events to the DLQ and counts the good event behind them',
    async ({ world }) => {
      const live = await seedResource(world.pool);
      // 30,000 undecodable records under one key (one partition), fetched together when the ingestor
      // starts: their DLQ records (9 MB) would be refused as one request, and the batch retried forever.
      const N = 30_000;
      const bad = Array.from({ length: N }, (_, i) => ({
        key: live,
        value: Buffer.concat([Buffer.from([0x93]), randomBytes(100)]),
        headers: { n: String(i) },
      }));
      const good = JSON.stringify({
        id: randomUUID(),
        resourceId: live,
        metric: 'api_calls',
        quantity: 3,
        timestamp: Date.now(),
        source: null,
      });
      const producer = producerFor(world);
      await producer.connect();
      await sendAll(producer, world.topics.usageEvents, [...bad, { key: live, value: Buffer.from(good) }]);
      await producer.disconnect();

      const ingestor = await startIngestor(readIngestorConfig({ ...world.env, INGESTOR_PORT: '0' }), log);
      try {
        await eventually(async () => (await readUsage(world, live)).api_calls === 3, {
          timeoutMs: 90_000,
          what: 'the good event behind the flood counted',
        });
        const dlq = await readAll(world, world.topics.dlq, N, 60_000);
        expect(dlq).toHaveLength(N);
        expect(dlq.every((m) => m.headers?.['dlq-reason']?.toString() === 'undecodable')).toBe(true);
        // Every bad record once, with its bytes unchanged.
        const seen = new Set(dlq.map((m) => Number(m.headers!.n!.toString())));
        expect(seen.size).toBe(N);
        const m0 = dlq.find((m) => m.headers!.n!.toString() === '0')!;
        expect(Buffer.compare(m0.value!, bad[0]!.value)).toBe(0);
        expect(await readUsage(world, live)).toEqual({ api_calls: 3 });
      } finally {
        await ingestor.stop();
      }
    },
  );
});

describe('ingestor: a bad record as large as the events topic takes', () => {
  ownWorldTest('goes to the DLQ with its reason headers added', async ({ world }) => {
    // Within the broker's default limit (1,048,588 bytes a record batch) on the events topic, by ~80
    // bytes; over it once the DLQ's headers (~180 bytes here) are added: the DLQ topic takes twice the
    // default. Without that, the broker refuses the DLQ record and the batch is retried forever.
    const value = Buffer.concat([Buffer.from([0x93]), randomBytes(1_048_430)]);
    const producer = producerFor(world);
    await producer.connect();
    await producer.send({ topic: world.topics.usageEvents, messages: [{ key: 'big', value }] });
    await producer.disconnect();
    const ingestor = await startIngestor(readIngestorConfig({ ...world.env, INGESTOR_PORT: '0' }), log);
    try {
      const [m] = await readAll(world, world.topics.dlq, 1);
      expect(m!.headers!['dlq-reason']!.toString()).toBe('undecodable');
      expect(Buffer.compare(m!.value!, value)).toBe(0);
    } finally {
      await ingestor.stop();
    }
  });
});

/** Events of many resources, each quantity 1, some ids repeated as producer retries. */
async function produceLoad(
  world: TestWorld,
  resources: string[],
  total: number,
  retryEvery = 50,
): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  const producer = producerFor(world);
  await producer.connect();
  const now = Date.now();
  let batch: { key: string; value: string }[] = [];
  let last: { key: string; value: string } | null = null;
  for (let i = 0; i < total; i++) {
    let msg: { key: string; value: string };
    if (last && i % retryEvery === 0) {
      msg = last; // a producer retry of the previous event: must not count again
    } else {
      const resourceId = resources[i % resources.length]!;
      const metric = i % 3 === 0 ? 'storage_gb' : 'api_calls';
      msg = {
        key: resourceId,
        value: JSON.stringify({ id: `e${i}`, resourceId, metric, quantity: 1, timestamp: now - (i % 1000) }),
      };
      const k = `${resourceId}|${metric}`;
      expected.set(k, (expected.get(k) ?? 0) + 1);
    }
    last = msg;
    batch.push(msg);
    if (batch.length === 2000) {
      await producer.send({ topic: world.topics.usageEvents, messages: batch });
      batch = [];
    }
  }
  if (batch.length) await producer.send({ topic: world.topics.usageEvents, messages: batch });
  await producer.disconnect();
  return expected;
}

async function expectExact(
  world: TestWorld,
  expected: Map<string, number>,
  timeoutMs = 120_000,
): Promise<void> {
  const byResource = new Map<string, Record<string, number>>();
  for (const [k, n] of expected) {
    const [r, m] = k.split('|') as [string, string];
    byResource.set(r, { ...(byResource.get(r) ?? {}), [m]: n });
  }
  await eventually(
    async () => {
      for (const [r, want] of byResource) {
        const have = await readUsage(world, r);
        if (JSON.stringify(Object.entries(have).sort()) !== JSON.stringify(Object.entries(want).sort())) {
          return false;
        }
      }
      return true;
    },
    { timeoutMs, intervalMs: 500, what: 'every counter exact' },
  );
  for (const [r, want] of byResource) expect(await readUsage(world, r)).toEqual(want);
  // The ledger commits right after Redis in each batch: give the last batch its moment.
  const ledger = new UsageLedger(world.pool, `${world.groupPrefix}ingestor`);
  const ledgerTotals = () => ledger.periodTotals(periodOf(Date.now()).start, periodOf(Date.now()).end);
  const same = (a: Record<string, number> | undefined, b: Record<string, number>) =>
    JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b).sort());
  await eventually(
    async () => {
      const truth = await ledgerTotals();
      return [...byResource].every(([r, want]) => same(truth.get(r), want));
    },
    { timeoutMs: 10_000, intervalMs: 200, what: 'the ledger exact' },
  ).catch(() => {});
  const truth = await ledgerTotals();
  for (const [r, want] of byResource) expect(truth.get(r), `ledger of ${r}`).toEqual(want);
}

describe('ingestor: crashes, Redis loss and a shared consumer group', () => {
  ownWorldTest(
    'stays exact when killed with SIGKILL several times in the middle of 100,000 events',
    async ({ world }) => {
      const resources = await Promise.all(Array.from({ length: 50 }, () => seedResource(world.pool)));
      const expected = await produceLoad(world, resources, 100_000);
      // Small fetches, so the load is counted in many batches and every kill lands in the middle of it.
      const env = { ...world.env, INGESTOR_PORT: '0', INGEST_FETCH_MAX_BYTES: String(256 * 1024) };
      for (let kill = 0; kill < 3; kill++) {
        const proc = startServiceProcess('services/ingestor/src/main.ts', env);
        // Let it count part of the load, then kill it without warning.
        const before = await ledgerEventCount(world.pool);
        await eventually(async () => (await ledgerEventCount(world.pool)) > before + 5_000, {
          timeoutMs: 60_000,
          what: `progress before kill ${kill + 1}`,
        }).catch((err) => {
          throw new Error(`${err.message}\n${proc.output().slice(-3000)}`);
        });
        await proc.kill('SIGKILL');
        const counted = await ledgerEventCount(world.pool);
        console.log(`kill ${kill + 1}: ${before} -> ${counted} counted`);
        expect(counted, `kill ${kill + 1} came before the end of the load`).toBeLessThan(100_000 - 2_000);
      }
      const last = startServiceProcess('services/ingestor/src/main.ts', env);
      try {
        await expectExact(world, expected);
      } finally {
        await last.started();
        expect(await last.kill('SIGTERM')).toBe(0);
      }
    },
  );

  ownWorldTest(
    'rebuilds every counter from the ledger by itself after Redis lost its data, and counts on exactly',
    async ({ world }) => {
      const ingestor = await startIngestor(readIngestorConfig({ ...world.env, INGESTOR_PORT: '0' }), log);
      try {
        const resources = await Promise.all(Array.from({ length: 20 }, () => seedResource(world.pool)));
        const expected = await produceLoad(world, resources, 5_000);
        await expectExact(world, expected);
        // Redis loses this world's data at once (KEYS patterns are not prefixed by ioredis, DEL keys are),
        // the generation markers included; more events arrive at once. One MULTI: the ingestor's periodic
        // check must not rebuild between two DELs and have the rest of the loss delete what it rebuilt.
        const worldKeys = await world.redis.keys(`${world.keyPrefix}*`);
        const stripped = worldKeys.map((k) => k.slice(world.keyPrefix.length));
        const loss = world.redis.multi();
        for (let i = 0; i < stripped.length; i += 500) loss.del(...stripped.slice(i, i + 500));
        loss.hgetall(keys.counters(resources[0]!));
        const replies = (await loss.exec()) ?? [];
        const deleted = replies.slice(0, -1).reduce((n, [err, d]) => n + (err ? 0 : Number(d)), 0);
        expect(deleted).toBe(stripped.length);
        expect(replies.at(-1)?.[1], 'a counter read right after the loss').toEqual({});
        for (const [k, n] of await produceLoad(world, resources, 3_000))
          expected.set(k, (expected.get(k) ?? 0) + n);
        // No recount by hand: the ingestor notices the missing markers, rebuilds from the ledger, counts on.
        await expectExact(world, expected, 60_000);
        const metrics = await (await fetch(`http://127.0.0.1:${ingestor.opsPort}/metrics`)).text();
        const rebuilds = metrics.split('\n').filter((l) => l.startsWith('meterline_counter_rebuilds_total'));
        expect(rebuilds).toEqual([
          'meterline_counter_rebuilds_total{cause="markers-missing",service="ingestor"} 2',
        ]);
        // Redis and the ledger agree: a recount finds nothing to correct.
        const counters = new CounterStore(world.redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
        const again = await recount(
          new UsageLedger(world.pool, `${world.groupPrefix}ingestor`),
          counters,
          periodOf(Date.now()),
          Date.now(),
        );
        expect(again).toEqual([]);
      } finally {
        await ingestor.stop();
      }
    },
  );

  sixPartitionsTest(
    'stays exact with two ingestor processes splitting the partitions of one group',
    async ({ world }) => {
      const env = { ...world.env, INGESTOR_PORT: '0' };
      const a = startServiceProcess('services/ingestor/src/main.ts', env);
      const b = startServiceProcess('services/ingestor/src/main.ts', env);
      try {
        // Both processes joined the group and each holds part of the partitions.
        const admin = createKafka(
          { brokers: world.urls.kafkaBrokers, clientId: `a-${world.id}` },
          log,
        ).admin();
        await admin.connect();
        const members = await eventually(
          async () => {
            const { groups } = await admin.describeGroups([`${world.groupPrefix}ingestor`]);
            const g = groups[0];
            return g?.state === 'Stable' && g.members.length === 2 ? g.members : false;
          },
          { timeoutMs: 60_000, what: 'two members in the ingestor group' },
        );
        expect(new Set(members.map((m) => m.clientHost + m.memberId)).size).toBe(2);
        const resources = await Promise.all(Array.from({ length: 40 }, () => seedResource(world.pool)));
        const expected = await produceLoad(world, resources, 20_000);
        await expectExact(world, expected);
        // Every partition that received events was counted and recorded (by one process or the other).
        const offsets = await admin.fetchTopicOffsets(world.topics.usageEvents);
        await admin.disconnect();
        const withEvents = offsets.filter((o) => Number(o.high) > 0).map((o) => o.partition);
        expect(withEvents.length).toBeGreaterThanOrEqual(4);
        expect(await recordedPartitions(world.pool, world.topics.usageEvents)).toEqual(
          withEvents.sort((a, b) => a - b),
        );
      } finally {
        await Promise.all([a.started(), b.started()]);
        expect(await a.kill('SIGTERM')).toBe(0);
        expect(await b.kill('SIGTERM')).toBe(0);
      }
    },
  );
});
