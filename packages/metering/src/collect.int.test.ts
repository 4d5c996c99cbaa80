import { randomInt, randomUUID } from 'node:crypto';
import { createRegistry } from '@meterline/kafka';
import { serviceUrls } from '@meterline/test/support';
import { describe, expect, it } from 'vitest';
import { collectUsageEvents, REGISTRY_LOOKUPS_PER_BATCH } from './collect.ts';
import { UsageEventDecoder } from './decode.ts';
import { defaultValidation, type Rejection } from './validate.ts';

describe('collectUsageEvents against the real schema registry', () => {
  it('asks the registry about a bounded number of unknown schema ids per batch, and rejects the rest unasked', async () => {
    const decoder = new UsageEventDecoder(createRegistry((await serviceUrls()).registryUrl));
    // Bad records that start with the Confluent magic byte: each names a schema id nobody registered.
    const base = 1_500_000_000 + randomInt(100_000_000);
    const records = Array.from({ length: 300 }, (_, i) => {
      const value = Buffer.alloc(24, 7);
      value[0] = 0;
      value.writeInt32BE(base + i, 1);
      return { offset: String(i), value };
    });
    const good = Buffer.from(
      JSON.stringify({
        id: randomUUID(),
        resourceId: randomUUID(),
        metric: 'api_calls',
        quantity: 1,
        timestamp: Date.now(),
      }),
    );
    records.push({ offset: '300', value: good });
    const rejected: Rejection[] = [];
    const byResource = await collectUsageEvents(records, decoder, Date.now(), defaultValidation, (_, why) =>
      rejected.push(why),
    );
    expect(rejected).toHaveLength(300);
    expect(rejected.every((r) => r.reason === 'unknown-schema')).toBe(true);
    const asked = rejected.filter((r) => /is not in the registry/.test(r.error));
    const unasked = rejected.filter((r) => /was not looked up/.test(r.error));
    expect(asked).toHaveLength(REGISTRY_LOOKUPS_PER_BATCH);
    expect(unasked).toHaveLength(300 - REGISTRY_LOOKUPS_PER_BATCH);
    // The good record behind them counts.
    expect([...byResource.values()].map((e) => e.length)).toEqual([1]);

    // The ids already found missing cost no lookup in the next batch: it asks about new ones only.
    const again: Rejection[] = [];
    await collectUsageEvents(records.slice(0, 40), decoder, Date.now(), defaultValidation, (_, why) =>
      again.push(why),
    );
    expect(again.filter((r) => /is not in the registry/.test(r.error))).toHaveLength(40);
  });
});
