import { AlertOutbox, FlagStore } from '@meterline/alerts';
import { loadCatalog } from '@meterline/catalog';
import { createPool, migrate } from '@meterline/db';
import {
  ContractCodec,
  connectKafka,
  createRegistry,
  startBatchConsumer,
  subjectFor,
} from '@meterline/kafka';
import { CounterStore, monthOf, ResourceDirectory } from '@meterline/metering';
import { createRedis } from '@meterline/redis';
import {
  Counter,
  createMetricsRegistry,
  Histogram,
  type Logger,
  Shutdown,
  serialQueue,
  startOpsServer,
} from '@meterline/runtime';
import type { PlanFlag, UsageAlert } from '@meterline/schemas';
import type { EvaluatorConfig } from './config.ts';
import {
  type EvaluationDeps,
  evaluateChanges,
  handleCounterChanges,
  refreshFlag,
} from './handlers/counter-changes.ts';
import { CurrentUsage } from './usage.ts';

export interface RunningEvaluator {
  shutdown: Shutdown;
  opsPort: number;
  joined: Promise<void>;
  stop(): Promise<boolean>;
}

export interface EvaluatorOptions {
  /** the evaluator's notion of now; tests move it to judge pace and period ends */
  clock?: () => number;
  /** fault injection for the crash tests: called after alerts are recorded, before publishing */
  afterRecord?: () => void;
}

/** The evaluator's composition root. Shutdown order: not ready -> stop timers -> drain the consumer
 * and commit -> publish what is pending -> flush the producer -> close Redis and Postgres. */
export async function startEvaluator(
  config: EvaluatorConfig,
  log: Logger,
  opts: EvaluatorOptions = {},
): Promise<RunningEvaluator> {
  const clock = opts.clock ?? Date.now;
  const registry = createMetricsRegistry('evaluator');
  const published = new Counter({
    name: 'meterline_alerts_published_total',
    help: 'UsageAlert records published, by kind and severity',
    labelNames: ['kind', 'severity'],
    registers: [registry],
  });
  const flagsPublished = new Counter({
    name: 'meterline_flags_published_total',
    help: 'PlanFlag records published',
    registers: [registry],
  });
  const alertLatency = new Histogram({
    name: 'meterline_alert_latency_seconds',
    help: 'From the oldest event of a counter change to its alert published',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const shutdown = new Shutdown(log);
  let accepting = false;

  const pool = createPool(config.databaseUrl, {
    schema: config.databaseSchema,
    application: 'meterline-evaluator',
  });
  await migrate(pool, { schema: config.databaseSchema });
  const catalog = await loadCatalog(pool, config.plansFile);
  const redis = createRedis(config.redisUrl, {
    keyPrefix: config.redisKeyPrefix,
    name: 'meterline-evaluator',
  });
  const kafka = await connectKafka(config, 'meterline-evaluator', log);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const schemaRegistry = createRegistry(config.registryUrl, 'meterline-evaluator');
  const alertCodec = new ContractCodec<UsageAlert>(
    schemaRegistry,
    subjectFor(config.topics.alerts),
    'UsageAlert',
  );
  const flagCodec = new ContractCodec<PlanFlag>(schemaRegistry, subjectFor(config.topics.flags), 'PlanFlag');
  await Promise.all([alertCodec.schemaId(), flagCodec.schemaId()]);

  const outbox = new AlertOutbox(pool, catalog.version);
  const flags = new FlagStore(pool, redis);
  const counters = new CounterStore(redis, { dedupeWindowSeconds: 1, periodRetentionDays: 62 });
  const usageCache = new CurrentUsage(counters);

  // One publisher at a time, so alerts leave in decision order. A failed round (broker or Postgres
  // down) fails its callers, who retry; it must not poison the rounds after it.
  const serially = serialQueue();
  const firstEventAt = new Map<string, number>();
  const publish = () =>
    serially(async () => {
      for (;;) {
        const sent = await outbox.publishPending(producer, alertCodec, config.topics.alerts);
        const at = Date.now();
        for (const a of sent) {
          published.inc({ kind: a.kind, severity: a.severity });
          const first = firstEventAt.get(`${a.resourceId}|${a.metric}`);
          if (first !== undefined) alertLatency.observe(Math.max(0, at - first) / 1000);
          log.info(
            { alertId: a.id, resourceId: a.resourceId, metric: a.metric, kind: a.kind, tier: a.threshold },
            'alert published',
          );
        }
        if (sent.length < 500) break;
      }
      const sentFlags = await flags.publishPending(producer, flagCodec, config.topics.flags);
      flagsPublished.inc(sentFlags.length);
    });

  let deps: EvaluationDeps;
  const directory = new ResourceDirectory(
    pool,
    log,
    { databaseUrl: config.databaseUrl, schema: config.databaseSchema ?? 'public' },
    // A provision, plan change or deprovision: judge the resource's usage again under its plan now.
    (id) =>
      void reevaluate(id).catch((err: unknown) => log.warn({ err, resourceId: id }, 're-evaluation failed')),
  );
  const reevaluate = async (id: string) => {
    const now = clock();
    const resource = (await directory.getMany([id], now)).get(id);
    if (!resource) return;
    const period = monthOf(now);
    usageCache.forget(id);
    const usage = await usageCache.get(id, period.key);
    await evaluateChanges(
      deps,
      Object.entries(usage).map(([metric, used]) => ({
        resourceId: id,
        plan: resource.plan,
        metric,
        periodKey: period.key,
        used,
        at: now,
        firstEventAt: now,
      })),
    );
    if (Object.keys(usage).length === 0 && resource.state === 'provisioned')
      await refreshFlag(deps, resource, now);
    await publish();
  };
  await directory.start();

  deps = {
    catalog,
    directory,
    usage: usageCache,
    outbox,
    flags,
    paceGuards: config.paceGuards,
    downgradeRule: config.downgradeRule,
    clock,
    log,
    publish,
    onChange: (c) => firstEventAt.set(`${c.resourceId}|${c.metric}`, c.firstEventAt),
    ...(opts.afterRecord ? { afterRecord: opts.afterRecord } : {}),
  };

  const ops = await startOpsServer({
    port: config.opsPort,
    registry,
    readiness: {
      accepting: () => accepting,
      checks: { postgres: () => pool.query('SELECT 1'), redis: () => redis.ping() },
    },
  });
  const opsPort = ops.port;

  // Whatever was decided but not published before a crash goes out first.
  await publish();
  const consumer = await startBatchConsumer({
    kafka,
    groupId: config.groupId,
    topic: config.topics.counters,
    log,
    handle: async (batch) => {
      await handleCounterChanges(deps, batch);
      firstEventAt.clear();
    },
  });
  // After a rebalance the partitions this process owns may have moved meanwhile: what it cached about
  // their resources' usage and flags is read again.
  consumer.consumer.on(consumer.consumer.events.GROUP_JOIN, () => {
    usageCache.clear();
    flags.clear();
  });
  accepting = true;

  // Redis lost its copy of the flags (or this is the first start): written again from Postgres.
  const restoreFlags = () =>
    flags.restoreRedis(clock()).then((n) => {
      if (n !== null && n > 0)
        log.warn({ flags: n }, "Redis had lost the flags' copy: written again from Postgres");
    });
  await restoreFlags();

  // Retries publishing after a broker outage, lifts flags whose period has ended, and restores the
  // flags' Redis copy after Redis lost its data.
  const timer = setInterval(() => {
    flags
      .liftExpired(clock())
      .then(() => restoreFlags())
      .then(() => publish())
      .catch((err: unknown) => log.warn({ err }, 'outbox round failed'));
  }, config.outboxIntervalMs);
  timer.unref();

  shutdown
    .add('not ready', () => {
      accepting = false;
      clearInterval(timer);
    })
    .add('drain consumer and commit', () => consumer.stop())
    .add('publish pending', () => publish())
    .add('flush producer', () => producer.disconnect())
    .add('stop resource listener', () => directory.stop())
    .add('close ops server', () => ops.close())
    .add('close redis', () => redis.quit())
    .add('close postgres', () => pool.end());

  log.info({ group: config.groupId, catalog: catalog.version, opsPort }, 'evaluator started');
  return { shutdown, opsPort, joined: consumer.joined, stop: () => shutdown.run('stop') };
}
