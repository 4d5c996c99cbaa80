import { describe, expect, it } from 'vitest';
import { keyMatches } from './collect.ts';

describe('keyMatches', () => {
  const id = '0f8e7c1a-3b2d-4c5e-9f60-a1b2c3d4e5f6';

  it('takes the resource id in either case of its hex digits', () => {
    expect(keyMatches(Buffer.from(id), id)).toBe(true);
    expect(keyMatches(Buffer.from(id.toUpperCase()), id)).toBe(true);
  });

  it('refuses another id, a prefix, a longer key and a case change outside the hex digits', () => {
    expect(keyMatches(Buffer.from('1f8e7c1a-3b2d-4c5e-9f60-a1b2c3d4e5f6'), id)).toBe(false);
    expect(keyMatches(Buffer.from(id.slice(0, 35)), id)).toBe(false);
    expect(keyMatches(Buffer.from(`${id} `), id)).toBe(false);
    // '\r' | 0x20 is '-', and 'g' is no hex digit: neither may pass as a case change.
    expect(keyMatches(Buffer.from(id.replace(/-/g, '\r')), id)).toBe(false);
    expect(keyMatches(Buffer.from('G'), 'g')).toBe(false);
    expect(keyMatches(Buffer.from('resource-1'), id)).toBe(false);
  });
});
