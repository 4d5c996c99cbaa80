import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createKafka, createRegistry, type KafkaClientName, type Message } from '@meterline/kafka';
import {
  CounterStore,
  clearLedger,
  counterFields,
  keys,
  ledgerEventCount,
  rebuildLostCounters,
  UsageLedger,
} from '@meterline/metering';
import { seedResources } from '@meterline/resources/fixtures';
import { createLogger, sleep, usageError } from '@meterline/runtime';
import type { UsageAlert } from '@meterline/schemas';
import {
  createTestWorld,
  eventually,
  readProcStat,
  type ServiceProcess,
  startServiceProcess,
  tailTopic,
} from '@meterline/test/support';
import {
  benchClients,
  benchEvent,
  benchId,
  cpuSnapshot,
  cpuSpent,
  redisCpuSeconds,
  usageEventEncoder,
  writeBenchPlans,
} from './load.ts';

// `pnpm bench`: the ingest and alert benchmark on the real stack (run `pnpm infra:up` first).
// BENCH_EVENTS (default 1,000,000) events over BENCH_RESOURCES (default 10,000) resources.
// BENCH_CLIENTS (default KAFKA_CLIENT, else kafkajs), e.g. kafkajs,platformatic: the Kafka clients to
// compare on the same backlog in one run, the ingestor and the bare consumer both on each in turn. The
// first is the one whose figures head the results file and on which the later stages run (Redis bytes,
// the loss of Redis, latency with the evaluator); the others' are under `byClient`.
const usage =
  'usage: [BENCH_CLIENTS=kafkajs[,platformatic]] [BENCH_EVENTS=1000000] [BENCH_RESOURCES=10000] [BENCH_ROUNDS=1] pnpm bench';
const CLIENTS = benchClients(process.env.BENCH_CLIENTS ?? process.env.KAFKA_CLIENT ?? 'kafkajs', (problem) =>
  usageError(`BENCH_CLIENTS: ${problem}`, usage),
);
const PRIMARY = CLIENTS[0]!;
const N = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const R = Number(process.env.BENCH_RESOURCES ?? 10_000);
const LATENCY_EVENTS = Number(process.env.BENCH_LATENCY_EVENTS ?? Math.min(100_000, N));
const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 10_000);
const ALERT_PROBES = Number(process.env.BENCH_ALERT_PROBES ?? 200);
const log = createLogger('bench', { level: 'warn' });
const out = (s: string) => process.stdout.write(`${s}\n`);

const plansFile = writeBenchPlans('bench', ['api_calls', 'storage_gb']);

const world = await createTestWorld('bench', { partitions: 6 });
const env = {
  ...world.env,
  KAFKA_CLIENT: PRIMARY,
  PLANS_FILE: plansFile,
  INGESTOR_PORT: '0',
  EVALUATOR_PORT: '0',
  LOG_LEVEL: 'warn',
  RECONCILE_INTERVAL_SECONDS: '0',
};
const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'bench' }, log);
const registry = createRegistry(world.urls.registryUrl);
const encode = await usageEventEncoder(registry, `${world.topics.usageEvents}-value`);

const resources = Array.from({ length: R }, () => randomUUID());
const probes = Array.from({ length: ALERT_PROBES }, () => randomUUID());
await seedResources(world.pool, [
  ...resources.map((id) => ({ id, plan: 'bench' })),
  ...probes.map((id) => ({ id, plan: 'probe' })),
]);

const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();
async function produce(messages: Message[]) {
  await producer.send({ topic: world.topics.usageEvents, messages });
}

// 1. Load N events into the broker.
out(`loading ${N.toLocaleString('en-US')} events over ${R.toLocaleString('en-US')} resources...`);
const t0 = Date.now();
const now = Date.now();
const CHUNK = 5000;
for (let i = 0; i < N; i += CHUNK) {
  const messages: Message[] = [];
  for (let j = i; j < Math.min(N, i + CHUNK); j++) {
    const event = benchEvent(j, resources, N, now);
    messages.push({ key: event.resourceId, value: encode(event) });
  }
  await produce(messages);
}
const produceSeconds = (Date.now() - t0) / 1000;
out(
  `  produced in ${produceSeconds.toFixed(1)} s (${Math.round(N / produceSeconds).toLocaleString('en-US')} events/s)`,
);

// 2. The bare consumer of a client: no work at all, same topic, same machine, as many processes as the
// ingestor gets (BENCH_INGESTORS). Timed from the first fetch request: kafkajs decodes a whole fetch
// before the first batch reaches eachBatch, so timing from the first batch would leave out the decoding
// of up to 64 MB of records. A first, untimed read warms the broker (a freshly started broker serves
// the same fetches up to 2x slower for its first few million records, which flattered the ratio) and
// the page cache; BENCH_WARMUP=0 skips it.
const PROCESSES = Number(process.env.BENCH_INGESTORS ?? 1);
const processCpuSeconds = (pid: number | undefined) => readProcStat(pid!).cpuSeconds;
const servicesCpuSeconds = (services: ServiceProcess[]) =>
  services.reduce((sum, s) => sum + processCpuSeconds(s.child.pid), 0);
async function runBareConsumers(
  group: string,
  client: KafkaClientName,
): Promise<{ rate: number; cpuSeconds: number }> {
  const counts = new Array<number>(PROCESSES).fill(0);
  let start = Number.POSITIVE_INFINITY;
  let cpuAtStart = 0;
  const children = counts.map((_, k) => {
    const child = spawn(
      process.execPath,
      [
        // BARE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/bare", profiles it (SERVICE_NODE_ARGS the ingestor).
        ...(process.env.BARE_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
        '--import',
        'tsx',
        fileURLToPath(new URL('./bare-consumer.ts', import.meta.url)),
      ],
      {
        env: {
          ...process.env,
          BARE_CLIENT: client,
          BARE_BROKERS: world.urls.kafkaBrokers.join(','),
          BARE_TOPIC: world.topics.usageEvents,
          BARE_GROUP: `${world.groupPrefix}${group}`,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let rest = '';
    child.stdout.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const [what, value] = line.split(' ');
        if (what === 'fetch') {
          if (start === Number.POSITIVE_INFINITY) cpuAtStart = sumCpu();
          start = Math.min(start, Number(value));
        }
        if (what === 'count') counts[k] = Number(value);
      }
    });
    return child;
  });
  const sumCpu = () => children.reduce((sum, c) => sum + processCpuSeconds(c.pid), 0);
  await eventually(async () => counts.reduce((a, b) => a + b, 0) >= N, {
    timeoutMs: 600_000,
    intervalMs: 20,
  });
  const rate = N / ((Date.now() - start) / 1000);
  const cpuSeconds = sumCpu() - cpuAtStart;
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('exit', resolve).kill('SIGTERM'))));
  return { rate, cpuSeconds };
}
if (process.env.BENCH_WARMUP !== '0') await runBareConsumers('warmup', PRIMARY);

// 3. The ingestor (its own process) on the same backlog, in BENCH_ROUNDS rounds (default 1), each right
// after a bare consumer's read: this machine's speed swings by a third within minutes (its neighbours),
// so a ratio is only worth something between two runs side by side, and the median of a few rounds
// more. A round runs each client in turn, the ingestor and its bare consumer both on it, the first of
// BENCH_CLIENTS last (the later stages use its ingestors and counters). Each run starts from nothing:
// the ledger and Redis emptied, the ingestors' consumer group deleted (the same group name throughout:
// the evaluator finds the counters' generation under it).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const counted = () => ledgerEventCount(world.pool);
const changeAdmin = kafka.admin();
await changeAdmin.connect();
const changesSoFar = async () =>
  (await changeAdmin.fetchTopicOffsets(world.topics.counters)).reduce((sum, p) => sum + Number(p.high), 0);
async function startFromNothing() {
  // Deletable once the stopped ingestors have left it.
  await eventually(
    () =>
      changeAdmin.deleteGroups([`${world.groupPrefix}ingestor`]).then(
        () => true,
        () => false,
      ),
    { timeoutMs: 60_000, intervalMs: 500, what: "the ingestors' consumer group deleted" },
  );
  await clearLedger(world.pool);
  await world.flushRedis();
}
async function runIngestors(client: KafkaClientName) {
  const changes0 = await changesSoFar();
  // BENCH_INGESTORS processes share the partitions in one consumer group (scale-out on one machine).
  const started = Array.from({ length: PROCESSES }, () =>
    startServiceProcess('services/ingestor/src/main.ts', { ...env, KAFKA_CLIENT: client }),
  );
  // Timed like the bare consumer: from the moment the first ingestor has joined its group and starts
  // fetching (it logs "ingestor started" then) to the last event in the ledger.
  await Promise.race(started.map((i) => i.started()));
  const t0 = Date.now();
  // Where the CPU goes meanwhile: the ingestor processes (from /proc), Redis (INFO cpu), the machine.
  const cpu0 = servicesCpuSeconds(started);
  const redis0 = await redisCpuSeconds(world.redis);
  const machine0 = cpuSnapshot();
  await eventually(async () => (await counted()) >= N, {
    timeoutMs: 1_800_000,
    intervalMs: 100,
    what: 'all events counted',
  });
  const seconds = (Date.now() - t0) / 1000;
  const machine = cpuSpent(machine0, cpuSnapshot(), seconds);
  const ingestorCpu = servicesCpuSeconds(started) - cpu0;
  const redisCpu = (await redisCpuSeconds(world.redis)) - redis0;
  // A batch's counter changes go out after its ledger rows: counted once they stop coming.
  let changes = await changesSoFar();
  for (let settled = 0; settled < 3; ) {
    await sleep(200);
    const latest = await changesSoFar();
    settled = latest === changes ? settled + 1 : 0;
    changes = latest;
  }
  return {
    ingestors: started,
    seconds,
    rate: N / seconds,
    // The whole machine meanwhile: is there CPU left, and who has it (the broker, Postgres, the kernel).
    machine,
    ingestorCpu,
    redisCpu,
    counterChangeMessages: changes - changes0,
  };
}

type Run = {
  client: KafkaClientName;
  bare: Awaited<ReturnType<typeof runBareConsumers>>;
  ingest: Awaited<ReturnType<typeof runIngestors>>;
};
const runs: Run[] = [];
const order = [...CLIENTS.slice(1), PRIMARY];
for (let round = 0; round < ROUNDS; round++) {
  for (const client of order) {
    const previous = runs.at(-1);
    if (previous) {
      await Promise.all(previous.ingest.ingestors.map((i) => i.kill('SIGTERM')));
      await startFromNothing();
    }
    const bare = await runBareConsumers(`bare${runs.length}`, client);
    out(
      `${ROUNDS > 1 ? `round ${round + 1}: ` : ''}bare ${client} consumer: ${Math.round(bare.rate).toLocaleString('en-US')} events/s (${PROCESSES} process${PROCESSES > 1 ? 'es' : ''}; ${bare.cpuSeconds.toFixed(1)} s CPU from its first fetch)`,
    );
    const ingest = await runIngestors(client);
    runs.push({ client, bare, ingest });
    out(
      `ingestor${CLIENTS.length > 1 ? ` on ${client}` : ''}: ${Math.round(ingest.rate).toLocaleString('en-US')} events/s sustained (${(ingest.rate / bare.rate).toFixed(2)} of the bare consumer)`,
    );
    out(
      `  in ${ingest.seconds.toFixed(1)} s: ingestor CPU ${ingest.ingestorCpu.toFixed(1)} s (${(ingest.ingestorCpu / ingest.seconds).toFixed(2)} cores), Redis CPU ${ingest.redisCpu.toFixed(1)} s (${(ingest.redisCpu / ingest.seconds).toFixed(2)} cores)`,
    );
    out(
      `  the machine meanwhile: ${ingest.machine.busyCores} cores busy, ${ingest.machine.idleCores} idle, ${ingest.machine.stolenCores} stolen by the hypervisor; ${Object.entries(
        ingest.machine.byKind,
      )
        .map(([kind, c]) => `${kind} ${c}`)
        .join(', ')}`,
    );
    out(
      `  ${ingest.counterChangeMessages.toLocaleString('en-US')} counter-change messages to the evaluator (one per Redis shard a batch touched, each with the changes of its resources)`,
    );
  }
}
await changeAdmin.disconnect();
// Per client, the round whose ratio is the median stands for the run (its numbers go together); every
// round is in the results file.
const ratioOf = (r: Run) => r.ingest.rate / r.bare.rate;
const usPerEvent = (cpuSeconds: number) => Number(((cpuSeconds * 1e6) / N).toFixed(2));
const byClient = CLIENTS.map((client) => {
  const rounds = runs.filter((r) => r.client === client);
  const median = [...rounds].sort((a, b) => ratioOf(a) - ratioOf(b))[Math.floor((rounds.length - 1) / 2)]!;
  if (ROUNDS > 1)
    out(
      `${client}: median of ${ROUNDS} rounds: ${ratioOf(median).toFixed(2)} of the bare consumer (rounds: ${rounds.map((r) => ratioOf(r).toFixed(2)).join(', ')})`,
    );
  const { bare, ingest } = median;
  return {
    client,
    bareConsumerEventsPerSecond: Math.round(bare.rate),
    bareConsumerCpuSeconds: Number(bare.cpuSeconds.toFixed(1)),
    ingestorEventsPerSecond: Math.round(ingest.rate),
    ratioToBareConsumer: Number(ratioOf(median).toFixed(2)),
    rounds: rounds.map((r) => ({
      bareConsumerEventsPerSecond: Math.round(r.bare.rate),
      ingestorEventsPerSecond: Math.round(r.ingest.rate),
      ratioToBareConsumer: Number(ratioOf(r).toFixed(2)),
      ingestorCpuSeconds: Number(r.ingest.ingestorCpu.toFixed(1)),
      bareConsumerCpuSeconds: Number(r.bare.cpuSeconds.toFixed(1)),
    })),
    counterChangeMessages: ingest.counterChangeMessages,
    ingestSeconds: Number(ingest.seconds.toFixed(1)),
    ingestorCpuSeconds: Number(ingest.ingestorCpu.toFixed(1)),
    redisCpuSeconds: Number(ingest.redisCpu.toFixed(1)),
    machineDuringIngest: ingest.machine,
    /** CPU per event (all ingestor processes, over the whole backlog), and the bare consumer's. */
    cpuUsPerEvent: usPerEvent(ingest.ingestorCpu),
    bareCpuUsPerEvent: usPerEvent(bare.cpuSeconds),
    cpuRatioToBareConsumer: Number((ingest.ingestorCpu / bare.cpuSeconds).toFixed(2)),
    redisCpuUsPerEvent: usPerEvent(ingest.redisCpu),
  };
});
if (CLIENTS.length > 1) {
  const table = [
    [
      'client',
      'ingestor events/s',
      'bare events/s',
      'ratio',
      'ingestor µs CPU/event',
      'bare µs CPU/event',
      'CPU ratio',
    ],
    ...byClient.map((c) => [
      c.client,
      c.ingestorEventsPerSecond.toLocaleString('en-US'),
      c.bareConsumerEventsPerSecond.toLocaleString('en-US'),
      c.ratioToBareConsumer.toFixed(2),
      c.cpuUsPerEvent.toFixed(2),
      c.bareCpuUsPerEvent.toFixed(2),
      c.cpuRatioToBareConsumer.toFixed(2),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  out(`the clients side by side (${ROUNDS > 1 ? `median of ${ROUNDS} rounds each` : 'one round each'}):`);
  for (const row of table)
    out(
      `  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`,
    );
}
const { ingestors } = runs.at(-1)!.ingest;
const primary = byClient[0]!;

// 4. Redis bytes: per resource-metric counter (period hash field + window buckets) and per dedupe entry.
const redis = world.redis;
const sample = resources.slice(0, 200);
let counterBytes = 0;
let counterMetrics = 0;
let dedupeEntries = 0;
const periodKey = new Date(now).toISOString().slice(0, 7);
const dedupeWindowMs = Number(process.env.DEDUPE_WINDOW_SECONDS ?? 900) * 1000;
// Key names are derived from what was loaded (KEYS over millions of keys would measure nothing but KEYS).
// MEMORY USAGE takes the full name: ioredis does not add its prefix to it.
const usageOf = async (key: string) =>
  Number((await redis.memory('USAGE', `${world.keyPrefix}${key}`, 'SAMPLES', '0')) ?? 0);
// A resource's counters are one hash (ADR 0020): its month totals, window buckets, applied offsets and
// the dedupe ids, all per resource-metric here.
for (const r of sample) {
  counterBytes += await usageOf(keys.counters(r));
  const fields = (await redis.hkeysBuffer(keys.counters(r))).map((f) => f.toString('latin1'));
  counterMetrics += fields.filter((f) => f.startsWith(`u${periodKey}`)).length;
  dedupeEntries += fields.filter((f) => f.startsWith('i') || f.startsWith('t')).length;
}
const bytesPerCounter = counterBytes / Math.max(1, counterMetrics);
const idsPerResource = dedupeEntries / Math.max(1, sample.length);
// A busy resource's ids make its hash a hashtable: bytes per id there, measured apart.
const busyKey = keys.counters(randomUUID());
const busySlot = String(Math.floor(Date.now() / dedupeWindowMs));
for (let j = 0; j < 10_000; j += 1000)
  await redis.hset(
    busyKey,
    ...Array.from({ length: 1000 }, (_, k) => [counterFields.eventId(benchId(2, j + k)), busySlot]).flat(),
  );
const bytesPerBusyDedupe = (await usageOf(busyKey)) / 10_000;
await redis.del(busyKey);
out(
  `redis: ${Math.round(bytesPerCounter)} bytes per resource-metric (its resource's hash: month, rolling windows, offsets, ${idsPerResource.toFixed(1)} dedupe ids per resource; ${Math.round(bytesPerBusyDedupe)} B per id in a hash of 10,000)`,
);

// 4b. Redis loses its data (every key of this run) while the ingestor idles: how long the counters take
// to come back from the ledger (ADR 0011). The bench starts the rebuild itself to time it; the ingestor
// would within 5 s.
const periodOf = async (r: string) =>
  Object.fromEntries(
    Object.entries(await redis.hgetall(keys.counters(r))).filter(([f]) => f.startsWith(`u${periodKey}`)),
  );
const before = await Promise.all(sample.map(periodOf));
const lostKeys = await world.flushRedis();
const lossAt = Date.now();
const rebuilt = await rebuildLostCounters(
  new UsageLedger(world.pool, `${world.groupPrefix}ingestor`),
  new CounterStore(redis, {
    dedupeWindowSeconds: dedupeWindowMs / 1000,
    periodRetentionDays: Number(process.env.PERIOD_RETENTION_DAYS ?? 62),
  }),
  { retentionDays: Number(process.env.PERIOD_RETENTION_DAYS ?? 62) },
);
const rebuildSeconds = (Date.now() - lossAt) / 1000;
const same = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(
    ([m, v]) => Math.abs(Number(v) - Number(b[m])) <= 1e-6 * Math.max(1, Math.abs(Number(v))),
  );
await eventually(async () => (await Promise.all(sample.map(periodOf))).every((h, i) => same(h, before[i]!)), {
  timeoutMs: 120_000,
  what: 'the sampled counters back as they were',
});
out(
  `redis lost its data (${lostKeys.toLocaleString('en-US')} keys): ${
    rebuilt
      ? `${rebuilt.counters.toLocaleString('en-US')} counters rebuilt from the ledger in ${rebuildSeconds.toFixed(1)} s`
      : 'the ingestor rebuilt the counters first'
  }; the ${sample.length} sampled resources are exact again`,
);

// 5. Latency under load: events at LATENCY_RATE/s, with the evaluator running; alert probes cross a tier.
const evaluator = startServiceProcess('services/evaluator/src/main.ts', env);
// Each message holds the changes of one shard's resources (an array).
const changes = await tailTopic<{ at: number; firstEventAt: number }[]>(world, world.topics.counters);
const alerts = await tailTopic<UsageAlert>(world, world.topics.alerts);
// The evaluator first works through the counter changes of the load above; latency is measured once it
// has caught up, under the steady load below.
const admin = kafka.admin();
await admin.connect();
await eventually(
  async () => {
    const end = await admin.fetchTopicOffsets(world.topics.counters);
    const [committed] = await admin.fetchOffsets({
      groupId: `${world.groupPrefix}evaluator`,
      topics: [world.topics.counters],
    });
    return end.every(
      (p) =>
        p.offset === '0' ||
        committed?.partitions.find((c) => c.partition === p.partition)?.offset === p.offset,
    );
  },
  { timeoutMs: 600_000, intervalMs: 500, what: 'the evaluator caught up with the backlog' },
);
await admin.disconnect();
const changesBefore = changes.values.length;
const probeSentAt = new Map<string, number>();
const tickMs = 50;
const perTick = Math.max(1, Math.round((LATENCY_RATE * tickMs) / 1000));
let sent = 0;
let probeIndex = 0;
const latencyStart = Date.now();
// What the load costs: CPU of the ingestor(s) and the evaluator while it is produced.
const latencyCpu0 = {
  ingestor: servicesCpuSeconds(ingestors),
  evaluator: servicesCpuSeconds([evaluator]),
};
while (sent < LATENCY_EVENTS) {
  const tickStart = Date.now();
  const messages: Message[] = [];
  for (let i = 0; i < perTick && sent < LATENCY_EVENTS; i++, sent++) {
    const resourceId = resources[sent % R]!;
    messages.push({
      key: resourceId,
      value: encode({
        id: benchId(1, sent),
        resourceId,
        metric: 'api_calls',
        quantity: 1,
        timestamp: Date.now(),
        source: null,
      }),
    });
  }
  if (
    probeIndex < probes.length &&
    sent % Math.max(1, Math.floor(LATENCY_EVENTS / probes.length)) < perTick
  ) {
    const p = probes[probeIndex++]!;
    probeSentAt.set(p, Date.now());
    messages.push({
      key: p,
      value: encode({
        id: 'probe',
        resourceId: p,
        metric: 'api_calls',
        quantity: 60,
        timestamp: Date.now(),
        source: null,
      }),
    });
  }
  await produce(messages);
  const wait = tickMs - (Date.now() - tickStart);
  if (wait > 0) await sleep(wait);
}
const latencySeconds = (Date.now() - latencyStart) / 1000;
const achievedRate = sent / latencySeconds;
const round2 = (x: number) => Math.round(x * 100) / 100;
const latencyCores = {
  ingestor: round2((servicesCpuSeconds(ingestors) - latencyCpu0.ingestor) / latencySeconds),
  evaluator: round2((servicesCpuSeconds([evaluator]) - latencyCpu0.evaluator) / latencySeconds),
};
await eventually(
  async () => alerts.values.filter((a) => probeSentAt.has(a.resourceId)).length >= probeSentAt.size,
  {
    timeoutMs: 120_000,
    what: 'every probe alerted',
  },
);
await sleep(2000);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const counterLatencies = changes.values
  .slice(changesBefore)
  .flat()
  .map((c) => c.at - c.firstEventAt);
const alertLatencies = alerts.messages
  .map((m, i) => ({ m, a: alerts.values[i]! }))
  .filter(({ a }) => probeSentAt.has(a.resourceId))
  .map(({ m, a }) => Number(m.timestamp) - probeSentAt.get(a.resourceId)!);
const result = {
  date: new Date().toISOString(),
  machine: {
    cpus: (await import('node:os')).cpus().length,
    node: process.version,
    note: 'compare only within one run (ratios, CPU per event): the machine may be shared',
  },
  events: N,
  resources: R,
  ingestorProcesses: ingestors.length,
  produceEventsPerSecond: Math.round(N / produceSeconds),
  brokerWarmedUp: process.env.BENCH_WARMUP !== '0',
  // The first client's figures (its `client` among them): it is also the client of the stages below.
  ...primary,
  ...(CLIENTS.length > 1 ? { byClient: Object.fromEntries(byClient.map((c) => [c.client, c])) } : {}),
  redisBytesPerResourceMetric: Math.round(bytesPerCounter),
  redisDedupeIdsPerResource: Number(idsPerResource.toFixed(1)),
  redisBytesPerDedupeEntryBusyResource: Math.round(bytesPerBusyDedupe),
  redisLoss: {
    keysLost: lostKeys,
    countersRebuilt: rebuilt?.counters ?? null,
    rebuildSeconds: rebuilt ? Number(rebuildSeconds.toFixed(2)) : null,
  },
  latencyLoadEventsPerSecond: Math.round(achievedRate),
  /** CPU (cores) while the latency load was produced */
  latencyLoadCores: latencyCores,
  eventToCounterMs: {
    p50: pct(counterLatencies, 50),
    p99: pct(counterLatencies, 99),
    samples: counterLatencies.length,
  },
  eventToAlertMs: {
    p50: pct(alertLatencies, 50),
    p99: pct(alertLatencies, 99),
    samples: alertLatencies.length,
  },
};
out(
  `event -> counter updated: p50 ${result.eventToCounterMs.p50} ms, p99 ${result.eventToCounterMs.p99} ms (at ${Math.round(achievedRate).toLocaleString('en-US')} events/s)`,
);
out(
  `  meanwhile: ingestor ${latencyCores.ingestor} cores, evaluator ${latencyCores.evaluator} cores (events spread evenly over ${R.toLocaleString('en-US')} resources)`,
);
out(
  `event -> alert on usage.alerts.v1: p50 ${result.eventToAlertMs.p50} ms, p99 ${result.eventToAlertMs.p99} ms (${alertLatencies.length} alerts)`,
);
const file = new URL(`./results/ingest${process.env.BENCH_RESULT_SUFFIX ?? ''}.json`, import.meta.url);
await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
out(`results written to ${file.pathname}`);

await changes.stop();
await alerts.stop();
await producer.disconnect();
await Promise.all([...ingestors.map((i) => i.kill('SIGTERM')), evaluator.kill('SIGTERM')]);
await world.close();
process.exit(0);
