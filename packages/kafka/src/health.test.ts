import { describe, expect, it } from 'vitest';
import { DlqWindow } from './dlq-window.ts';
import { partitionLag } from './lag.ts';
import { defaultTopics, pipelineGroups, pipelineKafkaEnv } from './topics.ts';

describe('partitionLag', () => {
  it('counts from the committed offset, or from the oldest record when there is none or it expired', () => {
    expect(partitionLag(40, 0, 100)).toBe(60);
    expect(partitionLag(100, 0, 100)).toBe(0);
    expect(partitionLag(null, 10, 100)).toBe(90);
    expect(partitionLag(5, 10, 100)).toBe(90);
    expect(partitionLag(null, 0, 0)).toBe(0);
  });
});

describe('DlqWindow', () => {
  const MIN = 60_000;
  const t0 = Date.UTC(2026, 11, 7, 8, 0, 0);

  it('counts records by reason and minute over the last hour, dropping older ones', () => {
    const w = new DlqWindow(60 * MIN, MIN);
    w.add('undecodable', t0 - 61 * MIN);
    w.add('invalid-quantity', t0 - 30 * MIN);
    w.add('invalid-quantity', t0 - 30 * MIN + 5);
    w.add('undecodable', t0 - 10);
    w.add('unknown-resource', t0);
    const r = w.report(t0 + 1000);
    expect(r.reasons).toEqual([
      { reason: 'invalid-quantity', records: 2, lastAt: t0 - 30 * MIN + 5 },
      { reason: 'undecodable', records: 1, lastAt: t0 - 10 },
      { reason: 'unknown-resource', records: 1, lastAt: t0 },
    ]);
    expect(r.buckets).toHaveLength(60);
    expect(r.buckets.at(-1)).toEqual({ start: t0, records: 1 });
    expect(r.buckets.at(-2)).toEqual({ start: t0 - MIN, records: 1 });
    expect(r.buckets.reduce((n, b) => n + b.records, 0)).toBe(4);
    // Half an hour on, the two of 07:30 have left the window.
    expect(w.report(t0 + 31 * MIN).reasons.map((x) => x.reason)).toEqual(['undecodable', 'unknown-resource']);
  });
});

describe('pipelineGroups', () => {
  it('names each service group as kafkaEnv does, with the topic it reads', () => {
    expect(pipelineGroups('meterline-', defaultTopics)).toEqual([
      { service: 'ingestor', groupId: 'meterline-ingestor', topic: 'usage.events.v1' },
      { service: 'evaluator', groupId: 'meterline-evaluator', topic: 'usage.counters.v1' },
      { service: 'notifier', groupId: 'meterline-notifier', topic: 'usage.alerts.v1' },
    ]);
  });

  it('reads the optional Kafka settings: none without KAFKA_BROKERS', () => {
    expect(pipelineKafkaEnv.parse({})).toBeNull();
    expect(pipelineKafkaEnv.parse({ KAFKA_BROKERS: 'k:9092', CONSUMER_GROUP_PREFIX: 'x-' })).toEqual({
      kafkaBrokers: ['k:9092'],
      kafkaSecurity: { protocol: 'PLAINTEXT' },
      topics: defaultTopics,
      groupPrefix: 'x-',
    });
  });
});
