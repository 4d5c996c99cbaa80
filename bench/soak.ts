import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { DeliveryStore } from '@meterline/deliveries';
import { createKafka, createRegistry, type Message } from '@meterline/kafka';
import { ledgerEventCount } from '@meterline/metering';
import { createRedis } from '@meterline/redis';
import { AccessStore } from '@meterline/resources';
import { seedResources } from '@meterline/resources/fixtures';
import { createLogger, parseCommandLine, sleep } from '@meterline/runtime';
import {
  createTestWorld,
  eventually,
  type ServiceProcess,
  startOwnRedisServer,
  startServiceProcess,
  startSmtpCatcher,
} from '@meterline/test/support';
import { usageEventEncoder } from './load.ts';

// `pnpm soak`: the whole pipeline (ingestor, evaluator, notifier, api as processes) under a steady
// load for a long time, sampling what could grow without bound: each service's RSS, Redis's memory
// and the size of the Postgres schema. Not in CI. Kafka, the registry and Postgres are the shared
// ones (`pnpm infra:up`); Redis and SMTP are the soak's own, so that Redis's memory is the pipeline's
// alone and nothing else's mail is caught.
const usage = `usage: pnpm soak [--minutes 30] [--rate 5000] [--resources 10000] [--sample-seconds 30]
                 [--dedupe-window 300] [--out bench/results/soak.json] [--note TEXT]
  --minutes          how long the load runs
  --rate             events per second, spread evenly over the resources
  --resources        resources on a plan whose limits the load never reaches
  --sample-seconds   how often RSS, Redis memory and Postgres size are sampled
  --dedupe-window    the ingestor's DEDUPE_WINDOW_SECONDS: its dedupe sets grow for two windows, then
                     stay level; a window much longer than a third of the run looks like growth
  --out              where the samples and the verdict are written
  --note             what else ran on the machine meanwhile (kept in the file's metadata)`;
const { values: flags } = parseCommandLine(
  {
    options: {
      minutes: { type: 'string', default: '30' },
      rate: { type: 'string', default: '5000' },
      resources: { type: 'string', default: '10000' },
      'sample-seconds': { type: 'string', default: '30' },
      'dedupe-window': { type: 'string', default: '300' },
      out: { type: 'string', default: new URL('./results/soak.json', import.meta.url).pathname },
      note: { type: 'string', default: 'nothing said about what else ran on the machine' },
    },
  },
  usage,
);
const positive = (name: string, value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number, not ${JSON.stringify(value)}\n${usage}\n`);
    process.exit(2);
  }
  return n;
};
const MINUTES = positive('minutes', flags.minutes);
const RATE = positive('rate', flags.rate);
const R = Math.round(positive('resources', flags.resources));
const SAMPLE_MS = positive('sample-seconds', flags['sample-seconds']) * 1000;
const DEDUPE_WINDOW = Math.round(positive('dedupe-window', flags['dedupe-window']));
const out = (s: string) => process.stdout.write(`${s}\n`);
const log = createLogger('soak', { level: 'warn' });

// Two plans: the bulk of the load never reaches its limits (counting, counter changes, no alerts);
// every 30 s a few new resources on the small plan take 120 events each and cross both tiers, so that
// alerts, deliveries and emails go on for the whole run too.
const plansFile = join(tmpdir(), `soak-plans-${process.pid}.yaml`);
writeFileSync(
  plansFile,
  `plans:
  - name: soak
    rank: 1
    limits: { api_calls: 1000000000, storage_gb: 1000000000 }
    thresholds: [50, 100]
    overLimit: Nothing happens in a soak.
  - name: soak-small
    rank: 2
    limits: { api_calls: 100 }
    thresholds: [50, 100]
    overLimit: Nothing happens in a soak.
`,
);
const ALERTING_EVERY_MS = 30_000;
const ALERTING_PER_ROUND = 5;
const ALERTING_EVENTS = 120;

const redisServer = await startOwnRedisServer();
const smtp = await startSmtpCatcher();
const world = await createTestWorld('soak', { partitions: 6 });
const redis = createRedis(redisServer.url);
const deliveries = new DeliveryStore(world.pool);
const env: Record<string, string> = {
  ...world.env,
  REDIS_URL: redisServer.url,
  SMTP_URL: smtp.url,
  PLANS_FILE: plansFile,
  INGESTOR_PORT: '0',
  EVALUATOR_PORT: '0',
  NOTIFIER_PORT: '0',
  PORT: '0',
  LOG_LEVEL: 'warn',
  DEDUPE_WINDOW_SECONDS: String(DEDUPE_WINDOW),
  API_TOKEN: 'soak-token',
  EMAIL_FROM: 'Meterline <alerts@meterline.test>',
  NOTIFY_COALESCE_SECONDS: '0',
  HEROKU_ADDON_ID: 'meterline',
  HEROKU_ADDON_PASSWORD: 'soak-password',
  HEROKU_SSO_SALT: 'soak-salt',
  HEROKU_OAUTH_CLIENT_SECRET: 'soak-oauth-secret',
  TOKEN_ENCRYPTION_KEY: 'soak-token-encryption-key',
  // Nothing is provisioned through the api in the soak: the Platform API is never called.
  HEROKU_API_URL: 'http://127.0.0.1:9',
  HEROKU_ID_URL: 'http://127.0.0.1:9',
  PROVISIONING_MODE: 'sync',
};

const resources = Array.from({ length: R }, () => randomUUID());
await seedResources(
  world.pool,
  resources.map((id) => ({ id, plan: 'soak' })),
);
const alertingRounds = Math.ceil((MINUTES * 60_000) / ALERTING_EVERY_MS);
const alerting = Array.from({ length: alertingRounds * ALERTING_PER_ROUND }, () => randomUUID());
await seedResources(
  world.pool,
  alerting.map((id) => ({ id, plan: 'soak-small', ownerEmail: `owner-${id.slice(0, 8)}@soak.test` })),
);
const access = new AccessStore(world.pool);
for (const id of alerting) {
  await access.replace(
    id,
    [{ email: `owner-${id.slice(0, 8)}@soak.test`, userId: null, role: 'owner' }],
    Date.now(),
  );
}

const names = ['ingestor', 'evaluator', 'notifier', 'api'] as const;
const services = Object.fromEntries(
  names.map((n) => [n, startServiceProcess(`services/${n}/src/main.ts`, { ...env, LOG_LEVEL: 'info' })]),
) as Record<(typeof names)[number], ServiceProcess>;
await Promise.all(Object.values(services).map((s) => s.started(120_000)));
const apiPort = await eventually(
  async () => /"port":(\d+)[^\n]*"msg":"api started"/.exec(services.api.output())?.[1] ?? false,
  { timeoutMs: 10_000, what: "the api's port in its log" },
).catch(() => null);

const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'soak' }, log);
const registry = createRegistry(world.urls.registryUrl);
const encode = await usageEventEncoder(registry, `${world.topics.usageEvents}-value`);
const producer = kafka.producer({ allowAutoTopicCreation: false });
await producer.connect();

const rssBytes = (pid: number | undefined) => {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
};
const redisMemory = async () => {
  const info = await redis.info('memory');
  return {
    used: Number(/used_memory:(\d+)/.exec(info)![1]),
    rss: Number(/used_memory_rss:(\d+)/.exec(info)![1]),
  };
};
const postgresBytes = async () => {
  const { rows } = await world.pool.query<{ bytes: string }>(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')`,
    [world.schema],
  );
  return Number(rows[0]!.bytes);
};

interface Sample {
  atSeconds: number;
  sent: number;
  counted: number;
  deliveriesSent: number;
  emails: number;
  rss: Record<string, number | null>;
  redisUsedMemory: number;
  redisRss: number;
  postgresBytes: number;
}
const samples: Sample[] = [];
let sent = 0;
const start = Date.now();
const sampleNow = async () => {
  const mem = await redisMemory();
  const s: Sample = {
    atSeconds: Math.round((Date.now() - start) / 1000),
    sent,
    counted: await ledgerEventCount(world.pool),
    deliveriesSent: await deliveries.countIn('sent'),
    emails: smtp.mails.length,
    rss: Object.fromEntries(names.map((n) => [n, rssBytes(services[n].child.pid)])),
    redisUsedMemory: mem.used,
    redisRss: mem.rss,
    postgresBytes: await postgresBytes(),
  };
  samples.push(s);
  const mb = (b: number | null) => (b === null ? '-' : `${(b / 2 ** 20).toFixed(0)}`);
  out(
    `${String(s.atSeconds).padStart(5)} s  sent ${s.sent.toLocaleString('en-US')}, counted ${s.counted.toLocaleString('en-US')}, deliveries sent ${s.deliveriesSent}, emails ${s.emails}; ` +
      `RSS MB ${names.map((n) => `${n} ${mb(s.rss[n]!)}`).join(' ')}; redis ${mb(s.redisUsedMemory)} MB; postgres ${mb(s.postgresBytes)} MB`,
  );
};

// The api is read as the provider's dashboards would: a few usage reports a second.
let apiReads = 0;
let apiErrors = 0;
let loading = true;
const reader = (async () => {
  if (!apiPort) return;
  while (loading) {
    const id = resources[apiReads % R]!;
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/resources/${id}/usage`, {
        headers: { authorization: 'Bearer soak-token' },
      });
      await res.arrayBuffer();
      if (res.status !== 200) apiErrors++;
    } catch {
      apiErrors++;
    }
    apiReads++;
    await sleep(200);
  }
})();

out(
  `soak: ${MINUTES} min at ${RATE.toLocaleString('en-US')} events/s over ${R.toLocaleString('en-US')} resources (dedupe window ${DEDUPE_WINDOW} s), sampling every ${SAMPLE_MS / 1000} s`,
);
await sampleNow();
let nextSample = start + SAMPLE_MS;
const end = start + MINUTES * 60_000;
const tickMs = 50;
let bulk = 0;
let round = 0;
const alertingQueue: string[] = [];
let sendErrors = 0;
while (Date.now() < end) {
  const tickStart = Date.now();
  // As many events as the rate owes by now: a slow tick is made up by the next ones.
  const due = Math.min(Math.round((RATE * (tickStart - start)) / 1000) - sent, RATE);
  if (tickStart - start >= round * ALERTING_EVERY_MS && round < alertingRounds) {
    const fresh = alerting.slice(round * ALERTING_PER_ROUND, (round + 1) * ALERTING_PER_ROUND);
    for (let k = 0; k < ALERTING_EVENTS; k++) alertingQueue.push(...fresh);
    round++;
  }
  const messages: Message[] = [];
  for (let i = 0; i < due; i++) {
    const small = i % 20 === 0 ? alertingQueue.shift() : undefined;
    const resourceId = small ?? resources[bulk % R]!;
    const j = sent + i;
    messages.push({
      key: resourceId,
      value: encode({
        id: `00000000-0000-4000-8000-${j.toString(16).padStart(12, '0')}`,
        resourceId,
        metric: small || j % 4 !== 0 ? 'api_calls' : 'storage_gb',
        quantity: 1,
        timestamp: Date.now(),
        source: null,
      }),
    });
    if (!small) bulk++;
  }
  // A failed send is retried with the same events (same ids: counted once whatever reached the broker).
  while (messages.length > 0) {
    try {
      await producer.send({ topic: world.topics.usageEvents, messages });
      sent += messages.length;
      break;
    } catch (err) {
      sendErrors++;
      log.warn({ err }, 'send failed; retried');
      await sleep(500);
    }
  }
  if (Date.now() >= nextSample) {
    await sampleNow();
    nextSample += SAMPLE_MS;
  }
  const wait = tickMs - (Date.now() - tickStart);
  if (wait > 0) await sleep(wait);
}
loading = false;
await reader;
const loadSamples = [...samples];
const loadSeconds = (Date.now() - start) / 1000;
out(
  `load done: ${sent.toLocaleString('en-US')} events in ${loadSeconds.toFixed(0)} s; waiting for the ledger`,
);
const drainStart = Date.now();
const drained = await eventually(async () => (await ledgerEventCount(world.pool)) >= sent, {
  timeoutMs: 600_000,
  intervalMs: 1000,
  what: 'every event in the ledger',
})
  .then(() => true)
  .catch(() => false);
const drainSeconds = (Date.now() - drainStart) / 1000;
// Each alerting resource crosses both tiers: two alerts, one delivery each to its owner.
const expectedDeliveries = round * ALERTING_PER_ROUND * 2;
await eventually(async () => (await deliveries.countIn('sent')) >= expectedDeliveries, {
  timeoutMs: 120_000,
  intervalMs: 1000,
}).catch(() => {});
await sampleNow();

// Growth: a least-squares slope over the first and the last third of the samples. A series that still
// grows in its last third at more than half its first third's pace, by more than 5% of its level over
// the third, is called growing. Postgres holds the durable records (ledger hours, alerts, deliveries,
// emails), which grow with time by design: its check is that the growth does not speed up.
const slopePerMinute = (xs: { t: number; v: number }[]) => {
  const n = xs.length;
  if (n < 2) return 0;
  const mt = xs.reduce((a, x) => a + x.t, 0) / n;
  const mv = xs.reduce((a, x) => a + x.v, 0) / n;
  const num = xs.reduce((a, x) => a + (x.t - mt) * (x.v - mv), 0);
  const den = xs.reduce((a, x) => a + (x.t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60;
};
const third = Math.max(2, Math.floor(loadSamples.length / 3));
const series: { name: string; kind: 'bounded' | 'durable'; value: (s: Sample) => number | null }[] = [
  ...names.map((n) => ({
    name: `${n} RSS`,
    kind: 'bounded' as const,
    value: (s: Sample) => s.rss[n] ?? null,
  })),
  { name: 'Redis used_memory', kind: 'bounded', value: (s) => s.redisUsedMemory },
  { name: 'Postgres schema size', kind: 'durable', value: (s) => s.postgresBytes },
];
const checks = series.map(({ name, kind, value }) => {
  const points = (xs: Sample[]) =>
    xs.flatMap((s) => {
      const v = value(s);
      return v === null ? [] : [{ t: s.atSeconds, v }];
    });
  const first = points(loadSamples.slice(0, third));
  const last = points(loadSamples.slice(-third));
  const firstSlope = slopePerMinute(first);
  const lastSlope = slopePerMinute(last);
  const lastLevel = last.reduce((a, x) => a + x.v, 0) / Math.max(1, last.length);
  const lastMinutes = last.length > 1 ? (last.at(-1)!.t - last[0]!.t) / 60 : 0;
  const grewInLastThird = lastSlope * lastMinutes;
  const ok =
    kind === 'durable'
      ? lastSlope <= Math.max(firstSlope * 1.5, 0) || grewInLastThird <= 0.05 * lastLevel
      : lastSlope <= Math.max(firstSlope * 0.5, 0) || grewInLastThird <= 0.05 * lastLevel;
  return {
    series: name,
    kind,
    firstThirdBytesPerMinute: Math.round(firstSlope),
    lastThirdBytesPerMinute: Math.round(lastSlope),
    lastThirdMeanBytes: Math.round(lastLevel),
    verdict: ok ? (kind === 'durable' ? 'steady growth of durable records' : 'bounded') : 'GROWS',
  };
});
out('\nseries                  first third    last third   last-third level   verdict');
for (const c of checks) {
  const kb = (b: number) => `${(b / 1024).toFixed(0)} KB/min`.padStart(14);
  out(
    `${c.series.padEnd(22)} ${kb(c.firstThirdBytesPerMinute)} ${kb(c.lastThirdBytesPerMinute)} ${`${(c.lastThirdMeanBytes / 2 ** 20).toFixed(0)} MB`.padStart(18)}   ${c.verdict}`,
  );
}
const last = samples.at(-1)!;
const result = {
  date: new Date(start).toISOString(),
  machine: {
    host: hostname(),
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    note: flags.note,
  },
  settings: {
    minutes: MINUTES,
    rate: RATE,
    resources: R,
    sampleSeconds: SAMPLE_MS / 1000,
    dedupeWindowSeconds: DEDUPE_WINDOW,
    alertingResourcesPer30s: ALERTING_PER_ROUND,
  },
  outcome: {
    eventsSent: sent,
    achievedEventsPerSecond: Math.round(sent / loadSeconds),
    eventsCounted: last.counted,
    everyEventCounted: drained && last.counted === sent,
    secondsToDrainAfterLoad: Number(drainSeconds.toFixed(1)),
    sendRetries: sendErrors,
    deliveriesSent: last.deliveriesSent,
    expectedDeliveries,
    emails: last.emails,
    apiReads,
    apiErrors,
  },
  checks,
  samples,
};
await writeFile(flags.out, `${JSON.stringify(result, null, 2)}\n`);
out(`\nresults written to ${flags.out}`);

await producer.disconnect();
await Promise.all(Object.values(services).map((s) => s.kill('SIGTERM')));
redis.disconnect();
await world.close();
await smtp.close();
await redisServer.close();
const failed = checks.filter((c) => c.verdict === 'GROWS').length > 0 || !result.outcome.everyEventCounted;
process.exit(failed ? 1 : 0);
