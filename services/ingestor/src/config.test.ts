import { ConfigError } from '@meterline/runtime';
import { describe, expect, it } from 'vitest';
import { readIngestorConfig } from './config.ts';

const base = {
  KAFKA_BROKERS: '127.0.0.1:19092,127.0.0.1:19093',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/meterline',
  REDIS_URL: 'redis://127.0.0.1:6379',
};

function messages(env: Record<string, string>): string[] {
  try {
    readIngestorConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.variable}: ${p.problem}`);
    throw err;
  }
  return [];
}

describe('readIngestorConfig', () => {
  it('applies the defaults and converts the units', () => {
    const c = readIngestorConfig({ ...base, LATE_GRACE_HOURS: '1.5', CONSUMER_GROUP_PREFIX: 'test-' });
    expect(c).toMatchObject({
      kafkaBrokers: ['127.0.0.1:19092', '127.0.0.1:19093'],
      groupId: 'test-ingestor',
      opsPort: 9101,
      partitionConcurrency: 3,
      dedupeWindowSeconds: 900,
    });
    expect(c.validation.lateGraceMs).toBe(5_400_000);
  });

  it('names every malformed variable with the value it got', () => {
    expect(
      messages({
        ...base,
        KAFKA_BROKERS: '127.0.0.1:19092,kafka',
        REDIS_URL: 'http://127.0.0.1:6379',
        INGEST_PARTITION_CONCURRENCY: '100',
        DEDUPE_WINDOW_SECONDS: 'soon',
        MAX_FUTURE_SKEW_SECONDS: '2.5',
      }),
    ).toEqual([
      'KAFKA_BROKERS: expected host:port[,host:port...], got "kafka"',
      'REDIS_URL: must use redis or rediss, got http',
      'INGEST_PARTITION_CONCURRENCY: expected an integer 1-64, got 100',
      'DEDUPE_WINDOW_SECONDS: expected an integer >= 1, got "soon"',
      'MAX_FUTURE_SKEW_SECONDS: expected an integer >= 0, got 2.5',
    ]);
  });
});
