import { ConfigError } from '@meterline/runtime';
import { describe, expect, it } from 'vitest';
import { readEvaluatorConfig } from './config.ts';

const base = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/meterline',
  REDIS_URL: 'redis://127.0.0.1:6379',
  PLANS_FILE: 'plans.example.yaml',
};

function messages(env: Record<string, string>): string[] {
  try {
    readEvaluatorConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.variable}: ${p.problem}`);
    throw err;
  }
  return [];
}

describe('readEvaluatorConfig', () => {
  it('applies the defaults', () => {
    expect(readEvaluatorConfig(base)).toMatchObject({
      kafkaBrokers: ['127.0.0.1:19092'],
      groupId: 'meterline-evaluator',
      topics: { usageEvents: 'usage.events.v1', counters: 'usage.counters.v1' },
      databaseSchema: undefined,
      redisKeyPrefix: 'ml:',
      opsPort: 9102,
      outboxIntervalMs: 2000,
      downgradeRule: { projectionMinElapsedFraction: 0.5, projectionMargin: 1 },
    });
  });

  it('names every missing or malformed variable, all at once', () => {
    expect(messages({})).toEqual([
      'KAFKA_BROKERS: is required but not set (host:port[,host:port...])',
      'SCHEMA_REGISTRY_URL: is required but not set',
      'DATABASE_URL: is required but not set',
      'REDIS_URL: is required but not set',
      'PLANS_FILE: is required but not set',
    ]);
    expect(
      messages({
        ...base,
        EVALUATOR_PORT: '99999',
        PACE_MIN_LIMIT: '-1',
        OUTBOX_INTERVAL_MS: '10',
        TOPIC_PLAN_FLAGS: ' ',
      }),
    ).toEqual([
      'EVALUATOR_PORT: expected an integer 0-65535, got 99999',
      'OUTBOX_INTERVAL_MS: expected an integer >= 50, got 10',
      'PACE_MIN_LIMIT: expected a number >= 0, got -1',
    ]);
  });
});
