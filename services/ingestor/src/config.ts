import { type DatabaseSettings, databaseEnv } from '@meterline/db';
import { type KafkaServiceSettings, kafkaEnv } from '@meterline/kafka';
import { defaultValidation, type ValidationSettings } from '@meterline/metering';
import { type RedisSettings, redisEnv } from '@meterline/redis';
import { env, envSchema, readEnv } from '@meterline/runtime';

export interface IngestorConfig extends KafkaServiceSettings, DatabaseSettings, RedisSettings {
  opsPort: number;
  partitionConcurrency: number;
  /** the most bytes one fetch brings (bigger batches, more aggregation per resource) */
  fetchMaxBytes: number;
  dedupeWindowSeconds: number;
  periodRetentionDays: number;
  reconcileIntervalSeconds: number;
  validation: ValidationSettings;
}

const ingestorEnv = envSchema(
  {
    INGESTOR_PORT: env.int({ default: 9101, min: 0, max: 65535 }),
    INGEST_PARTITION_CONCURRENCY: env.int({ default: 3, min: 1, max: 64 }),
    INGEST_FETCH_MAX_BYTES: env.int({ default: 64 * 1024 * 1024, min: 64 * 1024 }),
    DEDUPE_WINDOW_SECONDS: env.int({ default: 900, min: 1 }),
    PERIOD_RETENTION_DAYS: env.int({ default: 62, min: 1 }),
    RECONCILE_INTERVAL_SECONDS: env.int({ default: 300, min: 0 }),
    MAX_FUTURE_SKEW_SECONDS: env.int({ default: defaultValidation.maxFutureSkewMs / 1000, min: 0 }),
    LATE_GRACE_HOURS: env.number({ default: defaultValidation.lateGraceMs / 3_600_000, min: 0 }),
    MAX_QUANTITY: env.number({ default: defaultValidation.maxQuantity, min: 0 }),
  },
  (e) => ({
    opsPort: e.INGESTOR_PORT,
    partitionConcurrency: e.INGEST_PARTITION_CONCURRENCY,
    fetchMaxBytes: e.INGEST_FETCH_MAX_BYTES,
    dedupeWindowSeconds: e.DEDUPE_WINDOW_SECONDS,
    periodRetentionDays: e.PERIOD_RETENTION_DAYS,
    reconcileIntervalSeconds: e.RECONCILE_INTERVAL_SECONDS,
    validation: {
      maxFutureSkewMs: e.MAX_FUTURE_SKEW_SECONDS * 1000,
      lateGraceMs: e.LATE_GRACE_HOURS * 3_600_000,
      maxQuantity: e.MAX_QUANTITY,
    },
  }),
);

export function readIngestorConfig(source: Record<string, string | undefined> = process.env): IngestorConfig {
  const c = readEnv(
    { kafka: kafkaEnv('ingestor'), database: databaseEnv, redis: redisEnv, ingestor: ingestorEnv },
    source,
  );
  return { ...c.kafka, ...c.database, ...c.redis, ...c.ingestor };
}
