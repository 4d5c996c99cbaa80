import { batchFetchSettings, createRegistry, startBatchConsumer } from '@meterline/kafka';
import {
  CounterRebuilder,
  CounterStore,
  ResourceDirectory,
  UsageEventDecoder,
  UsageLedger,
  watchCounters,
} from '@meterline/metering';
import type { Logger } from '@meterline/runtime';
import { type RunningService, startServiceBase } from '@meterline/service';
import type { IngestorConfig } from './config.ts';
import { handleUsageBatch } from './handlers/usage-batch.ts';
import { ingestorMetrics, logRebuild, resourceCacheGauge } from './metrics.ts';

export type RunningIngestor = RunningService;

/** The ingestor's composition root: builds every dependency once, starts consuming, and states the
 * shutdown order. */
export async function startIngestor(config: IngestorConfig, log: Logger): Promise<RunningIngestor> {
  const { pool, redis, kafka, registry, running } = await startServiceBase({
    name: 'ingestor',
    log,
    database: config,
    redis: config,
    kafka: config,
  });
  const metrics = ingestorMetrics(registry);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  await producer.connect();
  const directory = await ResourceDirectory.listening(pool, log, config);
  resourceCacheGauge(registry, () => directory.cached);
  const counters = new CounterStore(redis, config);
  const ledger = new UsageLedger(pool, config.groupId);
  // Redis lost data (or this is the first start): rebuild from the ledger before counting (ADR 0011).
  const rebuilder = new CounterRebuilder(ledger, counters, {
    retentionDays: config.periodRetentionDays,
    onRebuilt: (report) => logRebuild(metrics, log, report),
  });
  await rebuilder.ensure();
  const decoder = new UsageEventDecoder(createRegistry(config.registryUrl, 'meterline-ingestor'));
  const { topics, validation } = config;
  const deps = {
    decoder,
    directory,
    counters,
    rebuilder,
    ledger,
    producer,
    topics,
    validation,
    metrics,
    log,
  };

  const consumer = await startBatchConsumer({
    kafka,
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
    ledger,
    counters,
    rebuilder,
    log,
    reconcileIntervalSeconds: config.reconcileIntervalSeconds,
    onDrift: (drifted) => metrics.driftResources.set(drifted),
  });

  const started = await running(config.opsPort, [
    ['stop timers', () => watch.stop()],
    ['drain consumer and commit', () => consumer.stop()],
    ['flush producer', () => producer.disconnect()],
    ['stop resource listener', () => directory.stop()],
  ]);
  log.info(
    { group: config.groupId, topic: config.topics.usageEvents, opsPort: started.opsPort },
    'ingestor started',
  );
  return { ...started, joined: consumer.joined };
}
