import { type DatabaseSettings, readDatabaseSettings } from '@meterline/db';
import { type KafkaServiceSettings, readKafkaSettings } from '@meterline/kafka';
import { defaultValidation, type ValidationSettings } from '@meterline/metering';
import { type RedisSettings, readRedisSettings } from '@meterline/redis';
import { configReader } from '@meterline/runtime';

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

export function readIngestorConfig(env: Record<string, string | undefined> = process.env): IngestorConfig {
  const c = configReader(env);
  const config: IngestorConfig = {
    ...readKafkaSettings(c, 'ingestor'),
    ...readDatabaseSettings(c),
    ...readRedisSettings(c),
    opsPort: c.int('INGESTOR_PORT', { default: 9101, min: 0, max: 65535 }),
    partitionConcurrency: c.int('INGEST_PARTITION_CONCURRENCY', { default: 3, min: 1, max: 64 }),
    fetchMaxBytes: c.int('INGEST_FETCH_MAX_BYTES', { default: 64 * 1024 * 1024, min: 64 * 1024 }),
    dedupeWindowSeconds: c.int('DEDUPE_WINDOW_SECONDS', { default: 900, min: 1 }),
    periodRetentionDays: c.int('PERIOD_RETENTION_DAYS', { default: 62, min: 1 }),
    reconcileIntervalSeconds: c.int('RECONCILE_INTERVAL_SECONDS', { default: 300, min: 0 }),
    validation: {
      maxFutureSkewMs:
        c.int('MAX_FUTURE_SKEW_SECONDS', { default: defaultValidation.maxFutureSkewMs / 1000, min: 0 }) *
        1000,
      lateGraceMs:
        c.number('LATE_GRACE_HOURS', { default: defaultValidation.lateGraceMs / 3_600_000, min: 0 }) *
        3_600_000,
      maxQuantity: c.number('MAX_QUANTITY', { default: defaultValidation.maxQuantity, min: 0 }),
    },
  };
  c.done();
  return config;
}
