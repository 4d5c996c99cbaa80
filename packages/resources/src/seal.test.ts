import { describe, expect, it } from 'vitest';
import { Sealer } from './seal.ts';

describe('Sealer', () => {
  it('opens what it sealed, never shows the plain text, and refuses another key or a tampered value', () => {
    const sealer = new Sealer('secret-a');
    const sealed = sealer.seal('access-token-123');
    expect(sealed).not.toContain('access-token-123');
    expect(sealer.seal('access-token-123')).not.toBe(sealed);
    expect(sealer.open(sealed)).toBe('access-token-123');
    expect(() => new Sealer('secret-b').open(sealed)).toThrow(/TOKEN_ENCRYPTION_KEY/);
    const parts = sealed.split('.');
    parts[3] = Buffer.from('forged').toString('base64url');
    expect(() => sealer.open(parts.join('.'))).toThrow(/cannot open/);
  });
});
