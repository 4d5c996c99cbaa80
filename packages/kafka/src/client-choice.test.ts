import { readEnv } from '@meterline/runtime';
import { describe, expect, it } from 'vitest';
import { kafkaEnv } from './topics.ts';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081' };

describe('KAFKA_CLIENT', () => {
  it('defaults to kafkajs and accepts platformatic', () => {
    expect(readEnv({ kafka: kafkaEnv('ingestor') }, base).kafka.client).toBe('kafkajs');
    expect(
      readEnv({ kafka: kafkaEnv('ingestor') }, { ...base, KAFKA_CLIENT: 'platformatic' }).kafka.client,
    ).toBe('platformatic');
  });

  it('stops on any other client, naming the variable and the choices', () => {
    expect(() => readEnv({ kafka: kafkaEnv('ingestor') }, { ...base, KAFKA_CLIENT: 'rdkafka' })).toThrow(
      /KAFKA_CLIENT.*kafkajs, platformatic/s,
    );
  });
});
