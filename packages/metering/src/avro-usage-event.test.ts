import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { isUsageEventV1, readUsageEventV1 } from './avro-usage-event.ts';

const schema = JSON.parse(
  readFileSync(new URL('../../../schemas/usage-event.avsc', import.meta.url), 'utf8'),
);
const type = avro.Type.forSchema(schema);

describe('the UsageEvent v1 reader', () => {
  it('reads what avsc writes, field for field', () => {
    const samples = [
      { id: 'e-1', resourceId: 'r', metric: 'api_calls', quantity: 1, timestamp: 0, source: null },
      {
        id: 'ünïcødé ✓',
        resourceId: '0f8fad5b-d9cb-469f-a165-70867728950e',
        metric: 'storage_gb',
        quantity: 12.345,
        timestamp: 1_796_000_000_000,
        source: 'worker-7',
      },
      { id: 'x'.repeat(300), resourceId: '', metric: 'm', quantity: 0, timestamp: -5, source: '' },
      { id: 'big', resourceId: 'r', metric: 'm', quantity: 1e300, timestamp: 2 ** 52, source: null },
      { id: 'neg', resourceId: 'r', metric: 'm', quantity: -1, timestamp: -(2 ** 52), source: null },
    ];
    for (let i = 0; i < 2000; i++)
      samples.push({
        id: `b${i}`,
        resourceId: 'r',
        metric: 'api_calls',
        quantity: Math.random() * 1000,
        timestamp: Math.floor(Math.random() * 2 ** 44) * (i % 2 ? 1 : -1),
        source: i % 3 ? null : `s${i}`,
      });
    for (const v of samples) {
      const body = type.toBuffer(v);
      const message = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), body]);
      expect(readUsageEventV1(message, 5)).toEqual(type.fromBuffer(body));
    }
  });

  it('refuses truncated bytes, trailing bytes and a bad union branch as avsc does', () => {
    const body = type.toBuffer({
      id: 'e',
      resourceId: 'r',
      metric: 'm',
      quantity: 1,
      timestamp: 5,
      source: 's',
    });
    for (let cut = 0; cut < body.length; cut++)
      expect(() => readUsageEventV1(body.subarray(0, cut), 0)).toThrow(/truncated/);
    expect(() => readUsageEventV1(Buffer.concat([body, Buffer.from([0])]), 0)).toThrow(/trailing data/);
    const badUnion = Buffer.from(body);
    badUnion[body.length - 3] = 4; // the union index (zig-zag 2) before the 1-char source
    expect(() => readUsageEventV1(badUnion, 0)).toThrow(/union/);
  });

  it('recognises only the v1 layout', () => {
    expect(isUsageEventV1(schema)).toBe(true);
    expect(isUsageEventV1(type.schema())).toBe(true);
    const reordered = { ...schema, fields: [schema.fields[1], schema.fields[0], ...schema.fields.slice(2)] };
    expect(isUsageEventV1(reordered)).toBe(false);
    const extra = { ...schema, fields: [...schema.fields, { name: 'region', type: 'string' }] };
    expect(isUsageEventV1(extra)).toBe(false);
    const floatQuantity = {
      ...schema,
      fields: schema.fields.map((f: { name: string }) =>
        f.name === 'quantity' ? { ...f, type: 'float' } : f,
      ),
    };
    expect(isUsageEventV1(floatQuantity)).toBe(false);
  });
});
