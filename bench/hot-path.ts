import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@meterline/kafka';
import { CounterStore, collectUsageEvents, defaultValidation, UsageEventDecoder } from '@meterline/metering';
import { createRedis, type RedisAddress, scanKeys } from '@meterline/redis';
import { serviceNodeArgs } from '@meterline/runtime';
import { serviceUrls, startOwnRedisServer } from '@meterline/test/support';
import { benchEvent, redisCpuSeconds, usageEventEncoder } from './load.ts';

// `pnpm bench:hot`: the ingestor's own per-event work, apart from Kafka, measured in CPU time of this
// process (and of Redis, from INFO): decoding, validating and sorting a batch's records into
// per-resource columns (`collectUsageEvents`), then counting them (`CounterStore.countMany`: building
// the script calls, ioredis, the replies). `pnpm bench` runs the whole pipeline, but its numbers swing
// with the shared machine by more than a change to this path is worth; these are steadier. Needs Redis
// and the schema registry (`pnpm infra:up`).
// HOT_EVENTS (default 300,000) over HOT_RESOURCES (1,667: one partition's share of `pnpm bench`'s 10,000
// over six), in batches of HOT_BATCH (50,000), HOT_ROUNDS (7) times, each into fresh keys.
// HOT_CLUSTER=1 runs the same rounds against the local Redis Cluster too (REDIS_CLUSTER_LOCAL_NODES,
// `bash infra/up.sh --redis-cluster`), after a single server of the run's own: both in one run.
const N = Number(process.env.HOT_EVENTS ?? 300_000);
const R = Number(process.env.HOT_RESOURCES ?? 1_667);
const BATCH = Number(process.env.HOT_BATCH ?? 50_000);
const ROUNDS = Number(process.env.HOT_ROUNDS ?? 7);
const out = (s: string) => process.stdout.write(`${s}\n`);

// Run with the ingestor's Node flags (its young-generation size changes what garbage costs).
if (!process.env.HOT_PATH_CHILD) {
  const child = spawnSync(
    process.execPath,
    [...serviceNodeArgs('ingestor'), '--import', 'tsx', fileURLToPath(import.meta.url)],
    { stdio: 'inherit', env: { ...process.env, HOT_PATH_CHILD: '1' } },
  );
  process.exit(child.status ?? 1);
}

const urls = await serviceUrls();
const registry = createRegistry(urls.registryUrl);
// One subject for every run: registering the same schema again returns its id.
const encode = await usageEventEncoder(registry, 'meterline-bench-hot-value');

// Records as `pnpm bench` loads them (`benchEvent`).
const now = Date.now();
const resources = Array.from({ length: R }, () => randomUUID());
const records = Array.from({ length: N }, (_, j) => ({
  offset: String(j),
  value: encode(benchEvent(j, resources, N, now)),
}));
const decoder = new UsageEventDecoder(createRegistry(urls.registryUrl));

const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

interface Round {
  collect: number;
  count: number;
  redis: number;
  /** events counted per second of wall time (countMany only) */
  rate: number;
}

/** ROUNDS rounds against one Redis (a server or a Cluster), each into fresh keys, which go after. */
async function measure(address: RedisAddress): Promise<Round[]> {
  const admin = createRedis(address);
  const prefixes: string[] = [];
  const rounds: Round[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const keyPrefix = `bench-hot:${randomBytes(4).toString('hex')}:`;
    prefixes.push(keyPrefix);
    const redis = createRedis(address, { keyPrefix });
    const counters = new CounterStore(redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
    await counters.setGeneration(1);
    let collectMicros = 0;
    let countMicros = 0;
    let countWallMs = 0;
    const redis0 = await redisCpuSeconds(admin);
    for (let from = 0; from < N; from += BATCH) {
      const batch = records.slice(from, from + BATCH);
      const c0 = cpuMicros();
      const byResource = await collectUsageEvents(batch, decoder, now, defaultValidation, (_, why) => {
        throw new Error(`a benchmark record was refused: ${why.error}`);
      });
      const c1 = cpuMicros();
      const w1 = performance.now();
      const work = [...byResource].map(([resourceId, events]) => ({ resourceId, events }));
      await counters.countMany('bench:0', work, now);
      countWallMs += performance.now() - w1;
      collectMicros += c1 - c0;
      countMicros += cpuMicros() - c1;
    }
    const redisSeconds = (await redisCpuSeconds(admin)) - redis0;
    await redis.quit();
    rounds.push({
      collect: (collectMicros * 1000) / N,
      count: (countMicros * 1000) / N,
      redis: (redisSeconds * 1e9) / N,
      rate: (N * 1000) / countWallMs,
    });
  }
  // The rounds' keys go (they would expire on their own in hours).
  for (const prefix of prefixes)
    for await (const found of scanKeys(admin, `${prefix}*`))
      await Promise.all(found.map((key) => admin.unlink(key)));
  await admin.quit();
  return rounds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// The first round warms the JIT; the median of the rest is reported.
const summary = (rounds: Round[]) => {
  const measured = rounds.slice(1);
  return {
    rounds: measured.length,
    nsPerEvent: {
      collect: Math.round(median(measured.map((r) => r.collect))),
      countClient: Math.round(median(measured.map((r) => r.count))),
      countRedis: Math.round(median(measured.map((r) => r.redis))),
    },
    countEventsPerSecond: Math.round(median(measured.map((r) => r.rate))),
    perRound: measured.map((r) => ({
      collect: Math.round(r.collect),
      countClient: Math.round(r.count),
      countRedis: Math.round(r.redis),
      countEventsPerSecond: Math.round(r.rate),
    })),
  };
};

// Side by side with the Cluster, the single server is one of this run's own (like each Cluster node:
// fresh, no other clients), not the shared one.
const own = process.env.HOT_CLUSTER === '1' ? await startOwnRedisServer() : null;
const single = summary(await measure(own?.url ?? urls.redisUrl));
await own?.close();
let cluster: ReturnType<typeof summary> | null = null;
if (process.env.HOT_CLUSTER === '1') {
  const nodes = urls.redisClusterNodes;
  if (!nodes)
    throw new Error('HOT_CLUSTER=1 needs REDIS_CLUSTER_LOCAL_NODES: run `bash infra/up.sh --redis-cluster`');
  cluster = summary(await measure({ clusterNodes: nodes }));
}
const result = {
  events: N,
  resources: R,
  batch: BATCH,
  ...single,
  ...(cluster ? { cluster } : {}),
  at: new Date().toISOString(),
};
out(
  `${N.toLocaleString('en-US')} events over ${R.toLocaleString('en-US')} resources, batches of ${BATCH.toLocaleString('en-US')}, median of ${single.rounds} rounds (CPU time per event):`,
);
for (const [name, r] of [
  ['one Redis server', single],
  ['Redis Cluster, 3 masters', cluster],
] as const) {
  if (!r) continue;
  out(`${name}:`);
  out(`  decode + validate + columns (collectUsageEvents): ${r.nsPerEvent.collect} ns`);
  out(`  count, this process (CounterStore.countMany):    ${r.nsPerEvent.countClient} ns`);
  out(`  count, Redis:                                     ${r.nsPerEvent.countRedis} ns`);
  out(
    `  count throughput (wall):                          ${r.countEventsPerSecond.toLocaleString('en-US')} events/s`,
  );
  out(`  per round: ${r.perRound.map((p) => `${p.collect}/${p.countClient}/${p.countRedis}`).join('  ')}`);
}
const file = new URL(`./results/hot-path${process.env.BENCH_RESULT_SUFFIX ?? ''}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
out(`results written to ${file.pathname}`);
