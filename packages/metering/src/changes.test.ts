import { randomUUID } from 'node:crypto';
import { shardOf } from '@meterline/redis';
import { describe, expect, it } from 'vitest';
import {
  CHANGES_PER_MESSAGE,
  type CounterChange,
  counterChangeMessages,
  readCounterChanges,
} from './changes.ts';

const change = (resourceId: string, used = 1, metric = 'api_calls'): CounterChange => ({
  resourceId,
  plan: 'basic',
  metric,
  periodKey: '2026-12',
  used,
  at: 1_000,
  firstEventAt: 900,
});

describe('counter-change messages', () => {
  it("puts a batch's changes in one message per shard, keyed by it, and reads them back in order", () => {
    const changes = Array.from({ length: 1_000 }, (_, i) => change(randomUUID(), i));
    const messages = counterChangeMessages(changes);
    const shards = new Set(changes.map((c) => shardOf(c.resourceId)));
    expect(messages).toHaveLength(shards.size);
    const read = messages.flatMap((m) => {
      const { changes: got, bad } = readCounterChanges(m.value);
      expect(bad).toBe(0);
      // Every change of a message belongs to its key's shard: a resource always goes under one key.
      for (const c of got) expect(String(shardOf(c.resourceId))).toBe(m.key);
      return got;
    });
    expect(read.sort((a, b) => a.used - b.used)).toEqual(changes);
  });

  it('keeps the changes of one resource in order, and splits a large shard into messages of at most CHANGES_PER_MESSAGE', () => {
    const r = randomUUID();
    const changes = Array.from({ length: CHANGES_PER_MESSAGE + 5 }, (_, i) => change(r, i));
    const messages = counterChangeMessages(changes);
    expect(messages.map((m) => readCounterChanges(m.value).changes.length)).toEqual([CHANGES_PER_MESSAGE, 5]);
    expect(new Set(messages.map((m) => m.key))).toEqual(new Set([String(shardOf(r))]));
    expect(messages.flatMap((m) => readCounterChanges(m.value).changes.map((c) => c.used))).toEqual(
      changes.map((c) => c.used),
    );
  });

  it('reads a single change (the format before arrays), and counts what is not a change', () => {
    const one = change(randomUUID(), 5);
    expect(readCounterChanges(JSON.stringify(one))).toEqual({ changes: [one], bad: 0 });
    const mixed = [one, { ...one, used: 'five' }, { ...one, resourceId: 'not-a-uuid' }, null, 7];
    expect(readCounterChanges(Buffer.from(JSON.stringify(mixed)))).toEqual({ changes: [one], bad: 4 });
    expect(readCounterChanges('{"resourceId": ')).toEqual({ changes: [], bad: 1 });
  });
});
