import { batchFetchSettings, startBatchConsumer } from '@meterline/kafka';
import { watchCounters } from '@meterline/metering';
import type { Logger } from '@meterline/runtime';
import { type RunningService, startServiceBase } from '@meterline/service';
import type { IngestorConfig } from './config.ts';
import { buildIngestorDeps } from './deps.ts';
import { handleUsageBatch } from './handlers/usage-batch.ts';

export type RunningIngestor = RunningService;

/** The ingestor's composition root: builds every dependency once, starts consuming, and states the
 * shutdown order. */
export async function startIngestor(config: IngestorConfig, log: Logger): Promise<RunningIngestor> {
  const base = await startServiceBase({
    name: 'ingestor',
    log,
    database: config,
    redis: config,
    kafka: config,
  });
  const deps = await buildIngestorDeps(config, base);
  const { metrics, ledger, counters, rebuilder, producer, directory } = deps;
  const consumer = await startBatchConsumer({
    kafka: base.kafka,
    groupId: config.groupId,
    topic: config.topics.usageEvents,
    log,
    partitionsConsumedConcurrently: config.partitionConcurrency,
    // Counting is idempotent per record (ADR 0007), so the next fetch may run beside this batch's work.
    overlapFetch: true,
    consumerConfig: {
      maxBytes: config.fetchMaxBytes,
      maxBytesPerPartition: Math.min(batchFetchSettings.maxBytesPerPartition, config.fetchMaxBytes),
    },
    handle: (batch, ctx) => handleUsageBatch(deps, batch, ctx),
  });
  // A partition another process took over would keep its last lag for ever.
  consumer.consumer.on(consumer.consumer.events.GROUP_JOIN, () => metrics.partitionLag.reset());
  const watch = watchCounters({
    ...{ ledger, counters, rebuilder, log },
    reconcileIntervalSeconds: config.reconcileIntervalSeconds,
    onDrift: (drifted) => metrics.driftResources.set(drifted),
  });

  const started = await base.running(config.opsPort, [
    ['stop timers', () => watch.stop()],
    ['drain consumer and commit', () => consumer.stop()],
    ['flush producer', () => producer.disconnect()],
    ['stop resource listener', () => directory.stop()],
  ]);
  const { groupId: group, topics } = config;
  log.info({ group, topic: topics.usageEvents, opsPort: started.opsPort }, 'ingestor started');
  return { ...started, joined: consumer.joined };
}
