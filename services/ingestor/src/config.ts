import { readTopics, type Topics } from '@meterline/kafka';
import { defaultValidation, type ValidationSettings } from '@meterline/metering';
import { configReader } from '@meterline/runtime';

export interface IngestorConfig {
  kafkaBrokers: string[];
  registryUrl: string;
  redisUrl: string;
  redisKeyPrefix: string;
  databaseUrl: string;
  databaseSchema: string | undefined;
  topics: Topics;
  groupId: string;
  opsPort: number;
  partitionConcurrency: number;
  dedupeWindowSeconds: number;
  periodRetentionDays: number;
  reconcileIntervalSeconds: number;
  validation: ValidationSettings;
}

export function readIngestorConfig(env: Record<string, string | undefined> = process.env): IngestorConfig {
  const c = configReader(env);
  const config: IngestorConfig = {
    kafkaBrokers: c.hostPorts('KAFKA_BROKERS'),
    registryUrl: c.url('SCHEMA_REGISTRY_URL', ['http', 'https']),
    redisUrl: c.url('REDIS_URL', ['redis', 'rediss'], { secret: true }),
    redisKeyPrefix: c.string('REDIS_KEY_PREFIX', { default: 'ml:' }),
    databaseUrl: c.url('DATABASE_URL', ['postgres', 'postgresql'], { secret: true }),
    databaseSchema: c.optionalString('DATABASE_SCHEMA'),
    topics: readTopics(c),
    groupId: `${c.string('CONSUMER_GROUP_PREFIX', { default: 'meterline-' })}ingestor`,
    opsPort: c.int('INGESTOR_PORT', { default: 9101, min: 0, max: 65535 }),
    partitionConcurrency: c.int('INGEST_PARTITION_CONCURRENCY', { default: 3, min: 1, max: 64 }),
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
