import { startBatchConsumer } from '@meterline/kafka';
import type { Logger } from '@meterline/runtime';
import { type RunningService, startServiceBase } from '@meterline/service';
import type { EvaluatorConfig } from './config.ts';
import { buildEvaluatorDeps, type EvaluatorOptions } from './deps.ts';
import { handleCounterChanges } from './handlers/counter-changes.ts';

export type RunningEvaluator = RunningService;

/** The evaluator's composition root. Shutdown order: not ready -> stop timers -> drain the consumer
 * and commit -> publish what is pending -> flush the producer -> close Redis and Postgres. */
export async function startEvaluator(config: EvaluatorConfig, log: Logger, opts: EvaluatorOptions = {}) {
  const base = await startServiceBase({
    ...{ name: 'evaluator', log, database: config, plansFile: config.plansFile },
    ...{ redis: config, kafka: config },
  });
  const { deps, publisher, producer, directory, usage, metrics } = await buildEvaluatorDeps(
    config,
    base,
    opts,
  );

  // Whatever was decided but not published before a crash goes out first.
  await publisher.publish();
  const consumer = await startBatchConsumer({
    kafka: base.kafka,
    groupId: config.groupId,
    topic: config.topics.counters,
    log,
    handle: (batch) => handleCounterChanges(deps, batch).then(metrics.batchDone),
  });
  // After a rebalance the partitions this process owns may have moved meanwhile: what it cached about
  // their resources' usage and flags is read again.
  consumer.consumer.on(consumer.consumer.events.GROUP_JOIN, () => {
    usage.clear();
    publisher.flags.clear();
  });
  await publisher.restoreFlags(deps.clock());
  const rounds = publisher.every(config.outboxIntervalMs, deps.clock);

  const running = await base.running(config.opsPort, [
    ['stop timers', () => rounds.stop()],
    ['drain consumer and commit', () => consumer.stop()],
    ['publish pending', () => publisher.publish()],
    ['flush producer', () => producer.disconnect()],
    ['stop resource listener', () => directory.stop()],
  ]);
  const opsPort = running.opsPort;
  log.info({ group: config.groupId, catalog: base.catalog.version, opsPort }, 'evaluator started');
  return { ...running, joined: consumer.joined } satisfies RunningEvaluator;
}
