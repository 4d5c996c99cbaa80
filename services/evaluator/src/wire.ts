import { OutboxPublisher } from '@meterline/alerts';
import { startBatchConsumer } from '@meterline/kafka';
import { CounterStore, ResourceDirectory } from '@meterline/metering';
import type { Logger } from '@meterline/runtime';
import { type RunningService, startServiceBase } from '@meterline/service';
import type { EvaluatorConfig } from './config.ts';
import { type EvaluationDeps, handleCounterChanges } from './handlers/counter-changes.ts';
import { reevaluateResource } from './handlers/resource-changed.ts';
import { evaluatorMetrics } from './metrics.ts';
import { CurrentUsage } from './usage.ts';

export type RunningEvaluator = RunningService;

export interface EvaluatorOptions {
  /** the evaluator's notion of now; tests move it to judge pace and period ends */
  clock?: () => number;
  /** fault injection for the crash tests: called after alerts are recorded, before publishing */
  afterRecord?: () => void;
}

/** The evaluator's composition root. Shutdown order: not ready -> stop timers -> drain the consumer
 * and commit -> publish what is pending -> flush the producer -> close Redis and Postgres. */
export async function startEvaluator(config: EvaluatorConfig, log: Logger, opts: EvaluatorOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const base = await startServiceBase({
    name: 'evaluator',
    log,
    database: config,
    plansFile: config.plansFile,
    redis: config,
    kafka: config,
  });
  const { pool, redis, kafka, catalog } = base;
  const metrics = evaluatorMetrics(base.registry);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const publisher = await OutboxPublisher.open({
    ...{ pool, redis, producer, log, registryUrl: config.registryUrl, topics: config.topics },
    catalogVersion: catalog.version,
    onAlert: metrics.alertPublished,
    onFlags: metrics.flagsPublished,
  });
  const { outbox, flags } = publisher;
  const usage = new CurrentUsage(
    new CounterStore(redis, { dedupeWindowSeconds: 1, periodRetentionDays: 62 }),
  );
  // A provision, plan change or deprovision: the resource's usage is judged again under its plan now
  // (deferred: a change may arrive while the directory starts, before `deps` exists).
  const directory = await ResourceDirectory.listening(pool, log, config, (id) => {
    Promise.resolve()
      .then(() => reevaluateResource(deps, id))
      .catch((err: unknown) => log.warn({ err, resourceId: id }, 're-evaluation failed'));
  });
  const deps: EvaluationDeps = {
    paceGuards: config.paceGuards,
    downgradeRule: config.downgradeRule,
    catalog,
    directory,
    usage,
    outbox,
    flags,
    clock,
    log,
    publish: () => publisher.publish(),
    onChange: metrics.changeRead,
    ...(opts.afterRecord ? { afterRecord: opts.afterRecord } : {}),
  };

  // Whatever was decided but not published before a crash goes out first.
  await publisher.publish();
  const consumer = await startBatchConsumer({
    kafka,
    groupId: config.groupId,
    topic: config.topics.counters,
    log,
    handle: (batch) => handleCounterChanges(deps, batch).then(metrics.batchDone),
  });
  // After a rebalance the partitions this process owns may have moved meanwhile: what it cached about
  // their resources' usage and flags is read again.
  consumer.consumer.on(consumer.consumer.events.GROUP_JOIN, () => {
    usage.clear();
    flags.clear();
  });
  await publisher.restoreFlags(clock());
  const rounds = publisher.every(config.outboxIntervalMs, clock);

  const running = await base.running(config.opsPort, [
    ['stop timers', () => rounds.stop()],
    ['drain consumer and commit', () => consumer.stop()],
    ['publish pending', () => publisher.publish()],
    ['flush producer', () => producer.disconnect()],
    ['stop resource listener', () => directory.stop()],
  ]);
  log.info(
    { group: config.groupId, catalog: catalog.version, opsPort: running.opsPort },
    'evaluator started',
  );
  return { ...running, joined: consumer.joined } satisfies RunningEvaluator;
}
