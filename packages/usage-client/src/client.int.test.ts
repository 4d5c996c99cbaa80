import type { UsageEvent } from '@meterline/schemas';
import { eventually, tailTopic, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { UsageClient } from './index.ts';

const it = worldTest('client');

describe('UsageClient against the real registry and broker', () => {
  it('sends every emitted event, keyed by resource, Avro-encoded, even when close() comes right after emit()', async ({
    world,
  }) => {
    const client = await UsageClient.connect({
      brokers: world.urls.kafkaBrokers,
      registryUrl: world.urls.registryUrl,
      topic: world.topics.usageEvents,
      source: 'client-test',
      lingerMs: 50,
      maxBatch: 300,
    });
    const resources = ['0f8fad5b-d9cb-469f-a165-70867728950e', '7c9e6679-7425-40de-944b-e07fc1f90ae7'];
    const ts = Date.UTC(2026, 10, 20, 12);
    const emitted = Array.from({ length: 1000 }, (_, i) =>
      client.emit({
        resourceId: resources[i % 2]!,
        metric: 'api_calls',
        quantity: i,
        timestamp: new Date(ts + i),
      }),
    );
    await client.close(); // not awaiting the emits first: close must still send them all
    const ids = await Promise.all(emitted);
    expect(new Set(ids).size).toBe(1000);
    await expect(client.emit({ resourceId: resources[0]!, metric: 'x', quantity: 1 })).rejects.toThrow(
      /closed/,
    );

    const tail = await tailTopic<UsageEvent>(world, world.topics.usageEvents);
    try {
      await eventually(async () => tail.values.length >= 1000, { what: '1000 events on the topic' });
      expect(tail.values).toHaveLength(1000);
      const byId = new Map(tail.values.map((v) => [v.id, v]));
      ids.forEach((id, i) => {
        expect(byId.get(id)).toEqual({
          id,
          resourceId: resources[i % 2],
          metric: 'api_calls',
          quantity: i,
          timestamp: ts + i,
          source: 'client-test',
        });
      });
      for (const [i, m] of tail.messages.entries())
        expect(m.key?.toString()).toBe(tail.values[i]!.resourceId);
    } finally {
      await tail.stop();
    }
  });

  it('refuses a negative or non-finite quantity before sending anything', async ({ world }) => {
    const client = await UsageClient.connect({
      brokers: world.urls.kafkaBrokers,
      registryUrl: world.urls.registryUrl,
      topic: world.topics.usageEvents,
    });
    await expect(client.emit({ resourceId: 'r', metric: 'm', quantity: -1 })).rejects.toThrow(RangeError);
    await expect(client.emit({ resourceId: 'r', metric: 'm', quantity: Number.NaN })).rejects.toThrow(
      RangeError,
    );
    await client.close();
  });

  it('refuses a batch size a broker would refuse, and a negative linger, before connecting', async ({
    world,
  }) => {
    const base = { brokers: world.urls.kafkaBrokers, registryUrl: world.urls.registryUrl };
    await expect(UsageClient.connect({ ...base, maxBatch: 50_000 })).rejects.toThrow(/maxBatch/);
    await expect(UsageClient.connect({ ...base, maxBatch: 0 })).rejects.toThrow(/maxBatch/);
    await expect(UsageClient.connect({ ...base, lingerMs: -1 })).rejects.toThrow(/lingerMs/);
  });
});
