import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { unlinkSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createKafka, createRegistry, sendAll } from '@meterline/kafka';
import { ledgerEventCount, ledgerEventsByMetric } from '@meterline/metering';
import { createRedis } from '@meterline/redis';
import { AccessStore } from '@meterline/resources';
import { seedResources } from '@meterline/resources/fixtures';
import { createLogger, parseCommandLine, sleep, usageError } from '@meterline/runtime';
import type { UsageAlert } from '@meterline/schemas';
import {
  createTestWorld,
  eventually,
  readProcStat,
  type ServiceProcess,
  startServiceProcess,
  startSmtpCatcher,
  type TestWorld,
  tailTopic,
} from '@meterline/test/support';
import {
  benchClients,
  cpuSnapshot,
  cpuSpent,
  redisCpuSeconds,
  STEADY_METRICS,
  steadyResources,
  usageEventEncoder,
  writeBenchPlans,
} from './load.ts';

// `pnpm bench:load`: a steady load through the whole pipeline (ingestor, evaluator, notifier, each its
// own process, on the real Kafka, registry, Postgres, Redis; an SMTP catcher in this process), with a
// bare consumer of the same client reading the same topic in the same minutes. What a user feels:
// event -> counter, -> alert, -> email latency at a realistic rate; what it costs: CPU per event and
// Redis bytes per resource-metric; and whether every event was counted exactly once (the ledger against
// what was sent). `--clients kafkajs,platformatic` runs the same load once per Kafka client, one after
// the other, each in a fresh world. Results: bench/results/load<BENCH_RESULT_SUFFIX>.json.
const usage = `usage: pnpm bench:load [--rate 10000] [--minutes 5] [--resources 100000] [--clients kafkajs[,platformatic]]
  a steady load of --rate events/s for --minutes over --resources resources x ${STEADY_METRICS.length} metrics`;
const { values: flags } = parseCommandLine(
  {
    options: {
      rate: { type: 'string', default: '10000' },
      minutes: { type: 'string', default: '5' },
      resources: { type: 'string', default: '100000' },
      clients: { type: 'string', default: process.env.KAFKA_CLIENT ?? 'kafkajs' },
    },
  },
  usage,
);
const positive = (name: string, text: string) => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) usageError(`--${name} must be a positive number, not "${text}"`, usage);
  return n;
};
const RATE = positive('rate', flags.rate);
const SECONDS = positive('minutes', flags.minutes) * 60;
const R = Math.round(positive('resources', flags.resources));
const CLIENTS = benchClients(flags.clients, (problem) => usageError(`--clients: ${problem}`, usage));
/** Latencies of the first seconds (JIT warm-up, the consumers' first fetches) are left out. */
const WARMUP_MS = Math.min(10_000, (SECONDS * 1000) / 10);
/** One alert probe a second: a resource of a small plan that one event takes over its 50% tier. */
const PROBES = Math.max(5, Math.floor(SECONDS));
/** The bars of issue 22 (on the 2-core machine, everything on it). */
const bars = {
  p99EventToCounterMs: 150,
  p99EventToAlertMs: 250,
  p99EventToEmailMs: 2000,
  redisBytesPerResourceMetric: 200,
};
const log = createLogger('bench', { level: 'warn' });
const out = (s: string) => process.stdout.write(`${s}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const plansFile = writeBenchPlans('load', STEADY_METRICS);

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const cpuOf = (child: ChildProcess | undefined) => readProcStat(child!.pid!).cpuSeconds;

/** A bench child process that reports `<word> <number>` lines: the latest number of each word. */
function benchChild(script: URL, env: Record<string, string>) {
  const latest = new Map<string, number[]>();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let rest = '';
  child.stdout!.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const [what, ...values] = line.split(' ');
      latest.set(what!, values.map(Number));
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    child,
    latest: (what: string) => latest.get(what),
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Redis bytes of one world's keys (MEMORY USAGE of each, pipelined), by kind of key. */
async function redisBytes(world: TestWorld) {
  const raw = createRedis(world.urls.redisUrl);
  const byKind: Record<string, { keys: number; bytes: number }> = {};
  const kindOf = (key: string) => {
    const rest = key.slice(world.keyPrefix.length);
    // a resource's counters hash (totals, window buckets, applied offsets, dedupe ids: ADR 0020)
    if (/^\{s\d+\}:r:[^:]+$/.test(rest)) return 'counters';
    if (/:f$/.test(rest)) return 'flag';
    return 'other';
  };
  try {
    for await (const found of raw.scanStream({ match: `${world.keyPrefix}*`, count: 2000 })) {
      const batch = found as string[];
      if (batch.length === 0) continue;
      const pipeline = raw.pipeline();
      for (const key of batch) pipeline.memory('USAGE', key, 'SAMPLES', '0');
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach((key, i) => {
        const kind = kindOf(key);
        byKind[kind] ??= { keys: 0, bytes: 0 };
        byKind[kind].keys++;
        byKind[kind].bytes += Number(replies[i]?.[1] ?? 0);
      });
    }
  } finally {
    raw.disconnect();
  }
  return byKind;
}

const usedMemory = async (world: TestWorld) =>
  Number(/used_memory:(\d+)/.exec(await world.redis.info('memory'))![1]);

/** One steady load through the pipeline with the services on `client`. */
async function runLoad(client: string) {
  out(
    `\n== ${client}: ${fmt(RATE)} events/s for ${SECONDS} s over ${fmt(R)} resources x ${STEADY_METRICS.length} metrics`,
  );
  const world = await createTestWorld(`load-${client}`, { partitions: 6 });
  const smtp = await startSmtpCatcher();
  const env = {
    ...world.env,
    KAFKA_CLIENT: client,
    PLANS_FILE: plansFile,
    INGESTOR_PORT: '0',
    EVALUATOR_PORT: '0',
    NOTIFIER_PORT: '0',
    LOG_LEVEL: 'warn',
    RECONCILE_INTERVAL_SECONDS: '0',
    SMTP_URL: smtp.url,
    EMAIL_FROM: 'Meterline <alerts@meterline.test>',
    NOTIFY_COALESCE_SECONDS: '0',
  };
  const seed = randomBytes(4).toString('hex');
  const resources = steadyResources(seed, R);
  const probes = Array.from({ length: PROBES }, () => randomUUID());
  for (let i = 0; i < R; i += 20_000)
    await seedResources(
      world.pool,
      resources.slice(i, i + 20_000).map((id) => ({ id, plan: 'load' })),
    );
  await seedResources(
    world.pool,
    probes.map((id) => ({ id, plan: 'probe' })),
  );
  const access = new AccessStore(world.pool);
  for (const [i, p] of probes.entries()) await access.addContact(p, `probe-${i}@bench.test`);

  const services: Record<string, ServiceProcess> = {
    ingestor: startServiceProcess('services/ingestor/src/main.ts', env),
    evaluator: startServiceProcess('services/evaluator/src/main.ts', env),
    notifier: startServiceProcess('services/notifier/src/main.ts', env),
  };
  await Promise.all(Object.values(services).map((s) => s.started()));
  const bare = benchChild(new URL('./bare-consumer.ts', import.meta.url), {
    BARE_CLIENT: client,
    BARE_BROKERS: world.urls.kafkaBrokers.join(','),
    BARE_TOPIC: world.topics.usageEvents,
    BARE_GROUP: `${world.groupPrefix}bare`,
  });
  const changes = await tailTopic<{ at: number; firstEventAt: number }[]>(world, world.topics.counters);
  const alerts = await tailTopic<UsageAlert>(world, world.topics.alerts);
  await eventually(async () => bare.latest('fetch') !== undefined, {
    timeoutMs: 60_000,
    what: 'the bare consumer fetching',
  });
  const generator = benchChild(new URL('./steady-generator.ts', import.meta.url), {
    GEN_BROKERS: world.urls.kafkaBrokers.join(','),
    GEN_REGISTRY: world.urls.registryUrl,
    GEN_TOPIC: world.topics.usageEvents,
    GEN_RESOURCE_SEED: seed,
    GEN_RESOURCES: String(R),
    GEN_RATE: String(RATE),
    GEN_SECONDS: String(SECONDS),
  });
  await eventually(async () => generator.latest('ready') !== undefined, {
    timeoutMs: 60_000,
    what: 'the generator ready',
  });
  // Probes go from this process, one a second, from the same registry subject.
  const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'bench-load-probes' }, log);
  const encode = await usageEventEncoder(
    createRegistry(world.urls.registryUrl),
    `${world.topics.usageEvents}-value`,
  );
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();

  const memory0 = await usedMemory(world);
  const redisCpu0 = await redisCpuSeconds(world.redis);
  const machine0 = cpuSnapshot();
  const cpu0 = {
    ingestor: cpuOf(services.ingestor!.child),
    evaluator: cpuOf(services.evaluator!.child),
    notifier: cpuOf(services.notifier!.child),
    bare: cpuOf(bare.child),
    generator: cpuOf(generator.child),
    bench: process.cpuUsage(),
  };
  const start = Date.now();
  // The generator waits for this signal, so that the load starts with every measurement in place.
  generator.child.kill('SIGUSR2');
  const probeSentAt = new Map<string, number>();
  for (const [i, p] of probes.entries()) {
    const due = start + (i * SECONDS * 1000) / PROBES;
    if (due > Date.now()) await sleep(due - Date.now());
    probeSentAt.set(p, Date.now());
    await sendAll(producer, world.topics.usageEvents, [
      {
        key: p,
        value: encode({
          id: `probe-${i}`,
          resourceId: p,
          metric: 'api_calls',
          quantity: 60,
          timestamp: Date.now(),
          source: null,
        }),
      },
    ]);
  }
  await generator.exited;
  const [sent, generatorSeconds, generatorCpu] = generator.latest('done') ?? [
    Number.NaN,
    Number.NaN,
    Number.NaN,
  ];
  const total = sent! + PROBES;
  const produced = Date.now();
  // Counted: every event in the ledger, and the bare consumer through all of them.
  const done = { ingestor: 0, bare: 0 };
  await eventually(
    async () => {
      if (!done.bare && (bare.latest('count')?.[0] ?? 0) >= total) done.bare = Date.now();
      if (!done.ingestor && (await ledgerEventCount(world.pool)) >= total) done.ingestor = Date.now();
      return done.bare > 0 && done.ingestor > 0;
    },
    {
      // A machine that cannot keep up with the load drains its backlog after it: allow for that.
      timeoutMs: Math.max(300_000, 4 * SECONDS * 1000),
      intervalMs: 100,
      what: 'every event counted and read by the bare consumer',
    },
  );
  const cpuSeconds = {
    ingestor: cpuOf(services.ingestor!.child) - cpu0.ingestor,
    evaluator: cpuOf(services.evaluator!.child) - cpu0.evaluator,
    notifier: cpuOf(services.notifier!.child) - cpu0.notifier,
    bare: cpuOf(bare.child) - cpu0.bare,
    redis: (await redisCpuSeconds(world.redis)) - redisCpu0,
  };
  const wall = (Date.now() - start) / 1000;
  const machine = cpuSpent(machine0, cpuSnapshot(), wall);
  const bench = process.cpuUsage(cpu0.bench);
  await eventually(
    async () =>
      alerts.values.filter((a) => probeSentAt.has(a.resourceId)).length >= PROBES &&
      probes.every((p) => smtp.mails.some((m) => m.header('x-meterline-resource-id') === p)),
    { timeoutMs: 120_000, intervalMs: 200, what: 'every probe alerted and emailed' },
  );

  // Latencies: counter changes of the events made after the warm-up; every probe.
  const counterMs: number[] = [];
  for (const list of changes.values)
    for (const c of list) if (c.firstEventAt >= start + WARMUP_MS) counterMs.push(c.at - c.firstEventAt);
  const alertMs = alerts.messages
    .map((m, i) => ({ m, a: alerts.values[i]! }))
    .filter(({ a }) => probeSentAt.has(a.resourceId))
    .map(({ m, a }) => Number(m.timestamp) - probeSentAt.get(a.resourceId)!);
  const emailMs = probes.map((p) => {
    const mail = smtp.mails.find((m) => m.header('x-meterline-resource-id') === p)!;
    return mail.receivedAt - probeSentAt.get(p)!;
  });

  // Exactly once: the ledger's events per resource-metric against what was sent.
  const expected = new Map<string, number>();
  const per = Math.floor(sent! / R);
  const extra = sent! % R;
  for (let m = 0; m < STEADY_METRICS.length; m++)
    for (let i = 0; i < R; i++) {
      // Event j goes to resource j mod R and metric floor(j / R) mod 3: count round by round.
      const rounds = per + (i < extra ? 1 : 0);
      const n = Math.floor(rounds / STEADY_METRICS.length) + (m < rounds % STEADY_METRICS.length ? 1 : 0);
      if (n > 0) expected.set(`${resources[i]}|${STEADY_METRICS[m]}`, n);
    }
  for (const p of probes) expected.set(`${p}|api_calls`, 1);
  const rows = await ledgerEventsByMetric(world.pool);
  let lostEvents = 0;
  let doubleCounted = 0;
  const counted = new Map(rows.map((r) => [`${r.resourceId}|${r.metric}`, r.events]));
  for (const [k, n] of expected) lostEvents += Math.max(0, n - (counted.get(k) ?? 0));
  for (const [k, n] of counted) doubleCounted += Math.max(0, n - (expected.get(k) ?? 0));

  // Redis bytes: MEMORY USAGE of every key of the run, and INFO's used_memory before and after (the
  // shared Redis holds other worlds too, so the delta is only a cross-check).
  const memoryDelta = (await usedMemory(world)) - memory0;
  const byKind = await redisBytes(world);
  const resourceMetrics = expected.size;
  const allBytes = Object.values(byKind).reduce((s, k) => s + k.bytes, 0);
  const counterBytes = byKind.counters?.bytes ?? 0;

  const result = {
    client,
    rate: Math.round(sent! / generatorSeconds!),
    events: sent!,
    seconds: Number(generatorSeconds!.toFixed(1)),
    resources: R,
    resourceMetrics,
    p50EventToCounterMs: percentile(counterMs, 50),
    p99EventToCounterMs: percentile(counterMs, 99),
    p50EventToAlertMs: percentile(alertMs, 50),
    p99EventToAlertMs: percentile(alertMs, 99),
    p50EventToEmailMs: percentile(emailMs, 50),
    p99EventToEmailMs: percentile(emailMs, 99),
    latencySamples: {
      counter: counterMs.length,
      alert: alertMs.length,
      email: emailMs.length,
      warmupMs: WARMUP_MS,
    },
    redisBytesPerResourceMetric: Math.round(allBytes / resourceMetrics),
    redisCounterBytesPerResourceMetric: Math.round(counterBytes / resourceMetrics),
    redisUsedMemoryDeltaPerResourceMetric: Math.round(memoryDelta / resourceMetrics),
    // Every id of the run is still in its dedupe slot (a run shorter than the window): bytes per id.
    redisBytesPerDedupeEntry: Math.round((byKind.dedupe?.bytes ?? 0) / total),
    redisKeys: byKind,
    cpuUsPerEvent: Number(((cpuSeconds.ingestor * 1e6) / total).toFixed(1)),
    bareCpuUsPerEvent: Number(((cpuSeconds.bare * 1e6) / total).toFixed(1)),
    evaluatorCpuUsPerEvent: Number(((cpuSeconds.evaluator * 1e6) / total).toFixed(1)),
    notifierCpuSeconds: Number(cpuSeconds.notifier.toFixed(1)),
    redisCpuUsPerEvent: Number(((cpuSeconds.redis * 1e6) / total).toFixed(1)),
    generatorCpuUsPerEvent: Number(((generatorCpu! * 1e6) / sent!).toFixed(1)),
    measuringCpuSeconds: Number(((bench.user + bench.system) / 1e6).toFixed(1)),
    lostEvents,
    doubleCounted,
    catchUpMs: { ingestor: done.ingestor - produced, bare: done.bare - produced },
    machine,
  };
  const bar = (ok: boolean, text: string) => `${ok ? 'meets' : 'MISSES'} ${text}`;
  out(`  rate ${fmt(result.rate)} events/s (${fmt(sent!)} events in ${result.seconds} s; ${PROBES} probes)`);
  out(
    `  event -> counter p50 ${result.p50EventToCounterMs} ms, p99 ${result.p99EventToCounterMs} ms   ${bar(result.p99EventToCounterMs <= bars.p99EventToCounterMs, `p99 <= ${bars.p99EventToCounterMs} ms`)}`,
  );
  out(
    `  event -> alert   p50 ${result.p50EventToAlertMs} ms, p99 ${result.p99EventToAlertMs} ms   ${bar(result.p99EventToAlertMs <= bars.p99EventToAlertMs, `p99 <= ${bars.p99EventToAlertMs} ms`)}`,
  );
  out(
    `  event -> email   p50 ${result.p50EventToEmailMs} ms, p99 ${result.p99EventToEmailMs} ms   ${bar(result.p99EventToEmailMs <= bars.p99EventToEmailMs, `p99 <= ${bars.p99EventToEmailMs} ms`)}`,
  );
  out(
    `  redis ${result.redisBytesPerResourceMetric} bytes per resource-metric (counters ${result.redisCounterBytesPerResourceMetric}; used_memory delta ${result.redisUsedMemoryDeltaPerResourceMetric}) over ${fmt(resourceMetrics)}   ${bar(result.redisBytesPerResourceMetric <= bars.redisBytesPerResourceMetric, `<= ${bars.redisBytesPerResourceMetric}`)}`,
  );
  out(
    `    ${Object.entries(byKind)
      .map(([k, v]) => `${k} ${fmt(v.keys)} keys ${fmt(v.bytes / resourceMetrics)} B/rm`)
      .join(', ')}; ${result.redisBytesPerDedupeEntry} bytes per dedupe entry`,
  );
  out(
    `  ingestor ${result.cpuUsPerEvent} us CPU per event, bare ${client} consumer ${result.bareCpuUsPerEvent} (${(result.cpuUsPerEvent / result.bareCpuUsPerEvent).toFixed(2)}x)   ${bar(result.cpuUsPerEvent <= 2 * result.bareCpuUsPerEvent, '<= 2x the bare consumer')}`,
  );
  out(
    `  evaluator ${result.evaluatorCpuUsPerEvent}, Redis ${result.redisCpuUsPerEvent}, generator ${result.generatorCpuUsPerEvent} us per event; this process (tails, SMTP) ${result.measuringCpuSeconds} s`,
  );
  out(
    `  lost ${lostEvents}, double-counted ${doubleCounted}   ${bar(lostEvents === 0 && doubleCounted === 0, 'both 0')}`,
  );
  out(
    `  the machine: ${machine.busyCores} cores busy, ${machine.idleCores} idle, ${machine.stolenCores} stolen; ${Object.entries(
      machine.byKind,
    )
      .map(([kind, c]) => `${kind} ${c}`)
      .join(', ')}`,
  );

  await producer.disconnect();
  await changes.stop();
  await alerts.stop();
  await bare.stop();
  await Promise.all(Object.values(services).map((s) => s.kill('SIGTERM')));
  await smtp.close();
  await world.close();
  return result;
}

const runs = [];
for (const client of CLIENTS) runs.push(await runLoad(client));
const result = {
  date: new Date().toISOString(),
  host: {
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    note: 'shared with other engineers running tests: compare only within one run (ratios, CPU per event)',
  },
  bars,
  ...runs[0]!,
  ...(runs.length > 1 ? { byClient: Object.fromEntries(runs.map((r) => [r.client, r])) } : {}),
};
const file = new URL(`./results/load${process.env.BENCH_RESULT_SUFFIX ?? ''}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
out(`results written to ${file.pathname}`);
unlinkSync(plansFile);
process.exit(0);
