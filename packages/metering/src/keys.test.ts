import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { counterFields, isLowerUuid, writeUuid } from './keys.ts';

describe('event id fields', () => {
  it('keeps a lower-case UUID as its 16 bytes, any other id as text', () => {
    const id = randomUUID();
    expect(isLowerUuid(id)).toBe(true);
    const bytes = Buffer.from(id.replaceAll('-', ''), 'hex');
    const out = Buffer.alloc(17);
    writeUuid(id, out, 1);
    expect(out.subarray(1)).toEqual(bytes);
    expect(counterFields.eventId(id)).toEqual(Buffer.concat([Buffer.from('i'), bytes]));
    for (const other of [id.toUpperCase(), id.replaceAll('-', ''), `${id.slice(0, 35)}g`, `${id}0`, 'a'])
      expect(isLowerUuid(other), other).toBe(false);
    expect(counterFields.eventId(id.toUpperCase()).toString()).toBe(`t${id.toUpperCase()}`);
  });
});
