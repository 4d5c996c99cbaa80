import type { Pool } from '@meterline/db';
import { createPipelineProducer, createRegistry, type Kafka } from '@meterline/kafka';
import {
  CounterRebuilder,
  CounterStore,
  ResourceDirectory,
  UsageEventDecoder,
  UsageLedger,
} from '@meterline/metering';
import type { Redis } from '@meterline/redis';
import type { Logger, Registry } from '@meterline/runtime';
import type { IngestorConfig } from './config.ts';
import type { UsageBatchDeps } from './handlers/usage-batch.ts';
import { ingestorMetrics, logRebuild, resourceCacheGauge } from './metrics.ts';

/** Builds what a usage batch needs, and rebuilds the counters from the ledger when Redis lost them
 * (or on the first start) before anything is counted (ADR 0011). */
export async function buildIngestorDeps(
  config: IngestorConfig,
  base: { pool: Pool; redis: Redis; kafka: Kafka; registry: Registry; log: Logger },
): Promise<UsageBatchDeps> {
  const { pool, redis, kafka, registry, log } = base;
  const metrics = ingestorMetrics(registry);
  const producer = createPipelineProducer(kafka, { ordered: false });
  await producer.connect();
  const directory = await ResourceDirectory.listening(pool, log, config);
  resourceCacheGauge(registry, () => directory.cached);
  const counters = new CounterStore(redis, config);
  const ledger = new UsageLedger(pool, config.groupId);
  const rebuilder = new CounterRebuilder(ledger, counters, {
    retentionDays: config.periodRetentionDays,
    onRebuilt: (report) => logRebuild(metrics, log, report),
  });
  await rebuilder.ensure();
  const decoder = new UsageEventDecoder(
    createRegistry(config.registryUrl, 'meterline-ingestor', config.registrySecurity),
  );
  const { topics, validation } = config;
  return { decoder, directory, counters, rebuilder, ledger, producer, topics, validation, metrics, log };
}
