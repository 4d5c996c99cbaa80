import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeliveryStore } from '@meterline/deliveries';
import { createKafka, createRegistry, type Message } from '@meterline/kafka';
import { CounterStore, ledgerEventCount, ledgerTotals } from '@meterline/metering';
import { AccessStore } from '@meterline/resources';
import { seedResources } from '@meterline/resources/fixtures';
import { periodOf } from '@meterline/rules';
import { createLogger, sleep } from '@meterline/runtime';
import type { UsageAlert } from '@meterline/schemas';
import {
  type CaughtMail,
  createTestWorld,
  eventually,
  type OwnRedisServer,
  type ServiceProcess,
  type SmtpCatcher,
  serviceUrls,
  startOwnRedisServer,
  startServiceProcess,
  startSmtpCatcher,
  type TestWorld,
} from '@meterline/test/support';
import { type OwnKafkaBroker, startOwnKafkaBroker } from './kafka-broker.ts';
import { type OwnPostgresServer, startOwnPostgres } from './postgres-server.ts';

export const serviceNames = ['ingestor', 'evaluator', 'notifier', 'api'] as const;
export type ServiceName = (typeof serviceNames)[number];

const log = createLogger('faults', { level: 'fatal' });

/** The limit of the plan every phase's resources are on; each resource takes `eventsPerResource`
 * (10% over it), so each crosses both tiers (50% and 100%) while its phase's fault is going on. */
export interface PipelineOptions {
  limit: number;
  sendConcurrency: number;
}

/** The whole pipeline on servers of the suite's own: its Kafka broker, Postgres cluster, Redis and SMTP
 * catcher (the schema registry is the shared one: Apicurio keeps its schemas in its own storage, not in
 * Kafka, so the broker's restart does not touch it). The four services run as processes. */
export interface Pipeline {
  kafka: OwnKafkaBroker;
  postgres: OwnPostgresServer;
  redis: OwnRedisServer;
  smtp: SmtpCatcher;
  world: TestWorld;
  env: Record<string, string>;
  /** Running instances of each service, oldest first. */
  instances: Record<ServiceName, ServiceProcess[]>;
  apiUrl(instance?: ServiceProcess): string;
  startService(name: ServiceName): Promise<ServiceProcess>;
  close(): Promise<void>;
}

export async function startPipeline(opts: PipelineOptions): Promise<Pipeline> {
  // What is started is stopped again if a later part fails to start.
  const started: (() => Promise<unknown>)[] = [];
  try {
    return await startAll(opts, started);
  } catch (err) {
    for (const stop of started.reverse()) await stop().catch(() => {});
    throw err;
  }
}

async function startAll(opts: PipelineOptions, started: (() => Promise<unknown>)[]): Promise<Pipeline> {
  // One after another: started together on two busy cores, the JVM starves the others' readiness waits.
  const postgres = await startOwnPostgres();
  started.push(() => postgres.close());
  const redis = await startOwnRedisServer();
  started.push(() => redis.close());
  const smtp = await startSmtpCatcher();
  started.push(() => smtp.close());
  const kafka = await startOwnKafkaBroker();
  started.push(() => kafka.close());
  const { registryUrl } = await serviceUrls();
  const world = await createTestWorld('faults', {
    partitions: 6,
    urls: {
      kafkaBrokers: kafka.brokers,
      registryUrl,
      redisUrl: redis.url,
      redisAddress: redis.url,
      redisClusterNodes: null,
      databaseUrl: postgres.url,
      smtpUrl: smtp.url,
    },
  });
  started.push(() => world.close());
  // The suite's own Redis restarts: its client reconnects, without a warning for each refused attempt.
  world.redis.on('error', () => {});
  const plansFile = join(tmpdir(), `faults-plans-${process.pid}.yaml`);
  writeFileSync(
    plansFile,
    `plans:
  - name: fault
    rank: 1
    limits: { api_calls: ${opts.limit} }
    thresholds: [50, 100]
    overLimit: New API calls are refused until the next month.
  - name: probe
    rank: 2
    limits: { api_calls: 1 }
    thresholds: [100]
    overLimit: New API calls are refused until the next month.
`,
  );
  const env: Record<string, string> = {
    ...world.env,
    LOG_LEVEL: process.env.FAULTS_LOG_LEVEL === 'debug' ? 'debug' : 'info',
    PLANS_FILE: plansFile,
    PORT: '0',
    API_OPS_PORT: '0',
    INGESTOR_PORT: '0',
    EVALUATOR_PORT: '0',
    NOTIFIER_PORT: '0',
    API_TOKEN: 'faults-token',
    EMAIL_FROM: 'Meterline <alerts@meterline.test>',
    // Every alert goes out at once, and the retries after an outage are frequent: recovery is then
    // the pipeline's, not a backoff's.
    NOTIFY_COALESCE_SECONDS: '0',
    NOTIFY_RETRY_BASE_MS: '200',
    NOTIFY_RETRY_MAX_MS: '2000',
    NOTIFY_SEND_CONCURRENCY: String(opts.sendConcurrency),
    SMTP_TIMEOUT_MS: '5000',
    HEROKU_ADDON_ID: 'meterline',
    HEROKU_ADDON_PASSWORD: 'faults-password',
    HEROKU_SSO_SALT: 'faults-salt',
    HEROKU_OAUTH_CLIENT_SECRET: 'faults-oauth-secret',
    TOKEN_ENCRYPTION_KEY: 'faults-token-encryption-key',
    // Nothing is provisioned through the api here: the Platform API is never called.
    HEROKU_API_URL: 'http://127.0.0.1:9',
    HEROKU_ID_URL: 'http://127.0.0.1:9',
    PROVISIONING_MODE: 'sync',
  };
  const instances: Record<ServiceName, ServiceProcess[]> = {
    ingestor: [],
    evaluator: [],
    notifier: [],
    api: [],
  };
  const startService = async (name: ServiceName) => {
    const proc = startServiceProcess(`services/${name}/src/main.ts`, env);
    instances[name].push(proc);
    proc.exited.then((code) => {
      // A service that stops by itself with an error is a finding: its last words go to the test log.
      if (code !== null && code !== 0)
        console.error(`${name} exited ${code}:\n${proc.output().slice(-4000)}`);
      const i = instances[name].indexOf(proc);
      if (i >= 0) instances[name].splice(i, 1);
    });
    await proc.started(120_000);
    return proc;
  };
  started.push(() => Promise.all(serviceNames.flatMap((n) => instances[n].map((p) => p.kill('SIGKILL')))));
  for (const name of serviceNames) await startService(name);
  const apiUrl = (instance = instances.api[0]) => {
    const port = /"port":(\d+)[^\n]*"msg":"api started"/.exec(instance?.output() ?? '')?.[1];
    if (!port) throw new Error('no api running');
    return `http://127.0.0.1:${port}`;
  };
  return {
    kafka,
    postgres,
    redis,
    smtp,
    world,
    env,
    instances,
    apiUrl,
    startService,
    async close() {
      await Promise.all(serviceNames.flatMap((n) => instances[n].map((p) => p.kill('SIGKILL'))));
      await world.close().catch(() => {});
      await Promise.all([kafka.close(), postgres.close(), redis.close(), smtp.close()]);
    },
  };
}

/** Resources of one phase: on the `fault` plan, each with its owner on its access list (the owner
 * receives every tier), and one probe resource (limit 1) whose single event measures recovery. */
export async function seedPhaseResources(
  world: TestWorld,
  count: number,
): Promise<{ resources: string[]; probe: string }> {
  const resources = Array.from({ length: count }, () => randomUUID());
  const probe = randomUUID();
  await seedResources(world.pool, [
    ...resources.map((id) => ({ id, plan: 'fault', ownerEmail: ownerOf(id) })),
    { id: probe, plan: 'probe', ownerEmail: ownerOf(probe) },
  ]);
  const access = new AccessStore(world.pool);
  for (const id of [...resources, probe])
    await access.replace(id, [{ email: ownerOf(id), userId: null, role: 'owner' }], Date.now());
  return { resources, probe };
}

export const ownerOf = (resourceId: string) => `owner-${resourceId}@faults.test`;

/** A steady load: JSON usage events, one api_calls each, round robin over the resources, at a rate that
 * sends them all in `seconds`. A failed send (the broker is down) is retried with the same events until
 * it goes through; ticks missed meanwhile are made up afterwards. Events carry unique ids, so whatever
 * reached the broker twice still counts once. */
export class SteadyLoad {
  sent = 0;
  sendRetries = 0;
  private readonly producer;
  constructor(private readonly world: TestWorld) {
    this.producer = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'faults-load' }, log).producer({
      allowAutoTopicCreation: false,
      retry: { retries: 3, maxRetryTime: 2000 },
    });
  }
  connect() {
    return this.producer.connect();
  }
  /** Sends in requests of at most 500 events, each retried until the broker takes it. The events owed
   * after an outage are many: in one request they would make record batches over the broker's size
   * limit, refused for ever (ADR 0012). */
  async send(messages: Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 500) {
      const chunk = messages.slice(i, i + 500);
      for (;;) {
        try {
          await this.producer.send({ topic: this.world.topics.usageEvents, messages: chunk });
          break;
        } catch {
          this.sendRetries++;
          await sleep(250);
        }
      }
    }
  }
  /** Sends `perResource` events to each resource in `seconds`. */
  async run(phase: string, resources: string[], perResource: number, seconds: number): Promise<void> {
    const total = resources.length * perResource;
    const start = Date.now();
    let n = 0;
    while (n < total) {
      const due = Math.min(total, Math.ceil((total * (Date.now() - start)) / (seconds * 1000)));
      const messages: Message[] = [];
      for (; n < due; n++) {
        const resourceId = resources[n % resources.length]!;
        messages.push({
          key: resourceId,
          value: JSON.stringify({
            id: `${phase}-${n}`,
            resourceId,
            metric: 'api_calls',
            quantity: 1,
            timestamp: Date.now(),
          }),
        });
      }
      if (messages.length > 0) {
        await this.send(messages);
        this.sent += messages.length;
      }
      await sleep(100);
    }
  }
  /** One event to the probe resource: it crosses the probe plan's only tier. */
  probe(resourceId: string): Promise<void> {
    return this.send([
      {
        key: resourceId,
        value: JSON.stringify({
          id: `probe-${resourceId}`,
          resourceId,
          metric: 'api_calls',
          quantity: 1,
          timestamp: Date.now(),
        }),
      },
    ]);
  }
  disconnect() {
    return this.producer.disconnect();
  }
}

/** Every alert on the alerts topic, read from the beginning to its end by a fresh consumer. */
export async function readAlerts(world: TestWorld): Promise<UsageAlert[]> {
  const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'faults-alerts' }, log);
  const registry = createRegistry(world.urls.registryUrl);
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(world.topics.alerts);
  await admin.disconnect();
  const expected = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  const consumer = kafka.consumer({
    groupId: `${world.groupPrefix}alerts-${randomUUID()}`,
    maxWaitTimeInMs: 100,
  });
  const alerts: UsageAlert[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: world.topics.alerts, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (message.value) alerts.push((await registry.decode(message.value)) as UsageAlert);
    },
  });
  try {
    await eventually(async () => alerts.length >= expected, {
      timeoutMs: 60_000,
      what: `${expected} alerts read back`,
    });
  } finally {
    await consumer.disconnect();
  }
  return alerts;
}

export const alertIdsOf = (m: CaughtMail) =>
  m
    .header('x-meterline-alert-id')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** What one phase's resources hold now, in Redis, the ledger and (when given) the api's usage JSON. */
export async function countsOf(
  world: TestWorld,
  resources: string[],
  apiUrl?: string,
): Promise<{ redis: number[]; ledger: number[]; api: number[] }> {
  const counters = new CounterStore(world.redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
  const period = periodOf(Date.now()).key;
  const redis = await Promise.all(
    resources.map(async (r) => (await counters.periodUsage(r, period)).api_calls ?? 0),
  );
  const totals = await ledgerTotals(world.pool, { resourceIds: resources });
  const ledger = resources.map((r) => totals.get(r)?.api_calls ?? 0);
  const api = apiUrl
    ? await Promise.all(
        resources.map(async (r) => {
          const res = await fetch(`${apiUrl}/api/v1/resources/${r}/usage`, {
            headers: { authorization: 'Bearer faults-token' },
          });
          if (res.status !== 200) throw new Error(`usage of ${r}: HTTP ${res.status}`);
          const body = (await res.json()) as { metrics: { metric: string; used: number }[] };
          return body.metrics.find((m) => m.metric === 'api_calls')?.used ?? 0;
        }),
      )
    : [];
  return { redis, ledger, api };
}

export const ledgerEvents = (world: TestWorld, resources: string[]) =>
  ledgerEventCount(world.pool, resources);
export const pendingDeliveries = (world: TestWorld) => new DeliveryStore(world.pool).countIn('pending');
