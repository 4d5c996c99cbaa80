import { createPool, migrate } from '@meterline/db';
import { batchFetchSettings, connectKafka, createRegistry, startBatchConsumer } from '@meterline/kafka';
import {
  CounterRebuilder,
  CounterStore,
  findDrift,
  monthOf,
  ResourceDirectory,
  UsageEventDecoder,
  UsageLedger,
} from '@meterline/metering';
import { createRedis } from '@meterline/redis';
import { createMetricsRegistry, type Logger, Shutdown, startOpsServer } from '@meterline/runtime';
import type { IngestorConfig } from './config.ts';
import { handleUsageBatch } from './handlers/usage-batch.ts';
import { ingestorMetrics, resourceCacheGauge } from './metrics.ts';

export interface RunningIngestor {
  shutdown: Shutdown;
  opsPort: number;
  joined: Promise<void>;
  stop(): Promise<boolean>;
}

/** The ingestor's composition root: builds every dependency once, starts consuming, and states the
 * shutdown order. */
export async function startIngestor(config: IngestorConfig, log: Logger): Promise<RunningIngestor> {
  const registry = createMetricsRegistry('ingestor');
  const metrics = ingestorMetrics(registry);
  const shutdown = new Shutdown(log);
  let accepting = false;

  const pool = createPool(config.databaseUrl, {
    schema: config.databaseSchema,
    application: 'meterline-ingestor',
  });
  await migrate(pool, { schema: config.databaseSchema });
  const redis = createRedis(config.redisUrl, {
    keyPrefix: config.redisKeyPrefix,
    name: 'meterline-ingestor',
  });
  const kafka = await connectKafka(config, 'meterline-ingestor', log);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  await producer.connect();

  const directory = new ResourceDirectory(pool, log, {
    databaseUrl: config.databaseUrl,
    schema: config.databaseSchema ?? 'public',
  });
  await directory.start();
  resourceCacheGauge(registry, () => directory.cached);
  const counters = new CounterStore(redis, {
    dedupeWindowSeconds: config.dedupeWindowSeconds,
    periodRetentionDays: config.periodRetentionDays,
  });
  const ledger = new UsageLedger(pool, config.groupId);
  // Redis lost data (or this is the first start): rebuild from the ledger before counting (ADR 0011).
  const rebuilder = new CounterRebuilder(ledger, counters, {
    retentionDays: config.periodRetentionDays,
    onRebuilt: ({ shards, counters: written, generation, cause }) => {
      metrics.rebuilds.inc({ cause });
      const what = { shards: shards.length, counters: written, generation, cause };
      if (generation === 1) log.info(what, 'counters given their first generation (rebuilt from the ledger)');
      else if (cause === 'redis-older')
        log.warn(what, 'Redis restarted holding less than the ledger: every counter rebuilt from the ledger');
      else log.warn(what, 'Redis had lost counters: rebuilt from the ledger');
    },
  });
  await rebuilder.ensure();
  const decoder = new UsageEventDecoder(createRegistry(config.registryUrl, 'meterline-ingestor'));

  const ops = await startOpsServer({
    port: config.opsPort,
    registry,
    readiness: {
      accepting: () => accepting,
      checks: { postgres: () => pool.query('SELECT 1'), redis: () => redis.ping() },
    },
  });
  const opsPort = ops.port;

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
    handle: (batch, ctx) =>
      handleUsageBatch(
        {
          decoder,
          directory,
          counters,
          rebuilder,
          ledger,
          producer,
          topics: config.topics,
          validation: config.validation,
          metrics,
          log,
        },
        batch,
        ctx,
      ),
  });
  // A partition another process took over would keep its last lag for ever.
  consumer.consumer.on(consumer.consumer.events.GROUP_JOIN, () => metrics.partitionLag.reset());
  accepting = true;

  // Periodic reconciliation: how far Redis has drifted from the ledger (a metric, no correction;
  // `pnpm recount` corrects). Batches in flight show as small transient drift.
  const reconcile =
    config.reconcileIntervalSeconds > 0
      ? setInterval(() => {
          findDrift(ledger, counters, monthOf(Date.now()))
            .then((diffs) => {
              metrics.driftResources.set(diffs.length);
              if (diffs.length > 0)
                log.warn({ drift: diffs.slice(0, 10), total: diffs.length }, 'counter drift found');
            })
            .catch((err: unknown) => log.warn({ err }, 'reconciliation failed'));
        }, config.reconcileIntervalSeconds * 1000)
      : null;
  reconcile?.unref();
  // Redis losing its data while no events come is noticed within seconds, not at the next event.
  const watchCounters = setInterval(() => {
    rebuilder.check().catch((err: unknown) => log.warn({ err }, 'counter generation check failed'));
  }, 5_000);
  watchCounters.unref();

  shutdown
    .add('not ready', () => {
      accepting = false;
      if (reconcile) clearInterval(reconcile);
      clearInterval(watchCounters);
    })
    .add('drain consumer and commit', () => consumer.stop())
    .add('flush producer', () => producer.disconnect())
    .add('stop resource listener', () => directory.stop())
    .add('close ops server', () => ops.close())
    .add('close redis', () => redis.quit())
    .add('close postgres', () => pool.end());

  log.info({ group: config.groupId, topic: config.topics.usageEvents, opsPort }, 'ingestor started');
  return { shutdown, opsPort, joined: consumer.joined, stop: () => shutdown.run('stop') };
}
