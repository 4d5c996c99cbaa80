import { describe, expect, it } from 'vitest';
import { checkAddress } from './address.ts';

describe('checkAddress', () => {
  it('accepts a plain address, with or without a name', () => {
    expect(checkAddress('ada@example.com')).toEqual({ ok: true, address: 'ada@example.com' });
    expect(checkAddress("o'brien+alerts@mail.example.co.uk", 'Ada Lovelace')).toEqual({
      ok: true,
      address: `"Ada Lovelace" <o'brien+alerts@mail.example.co.uk>`,
    });
    expect(checkAddress('ada@example.com', '  ')).toEqual({ ok: true, address: 'ada@example.com' });
  });

  it('escapes quotes and backslashes in a name', () => {
    expect(checkAddress('ada@example.com', 'Ada "The Countess" \\ L')).toEqual({
      ok: true,
      address: '"Ada \\"The Countess\\" \\\\ L" <ada@example.com>',
    });
    // A name that looks like another address stays inside the quotes.
    expect(checkAddress('ada@example.com', 'evil@attacker.example>, <x')).toEqual({
      ok: true,
      address: '"evil@attacker.example>, <x" <ada@example.com>',
    });
  });

  it('encodes a non-ASCII name as RFC 2047 encoded words of at most 75 characters', () => {
    const result = checkAddress('jose@example.com', 'José Müller');
    expect(result).toEqual({ ok: true, address: '=?UTF-8?B?Sm9zw6kgTcO8bGxlcg==?= <jose@example.com>' });
    const long = checkAddress('a@example.com', 'Ünïcödé '.repeat(12).trim());
    if (!long.ok) throw new Error(long.reason);
    const words = long.address.replace(/ <a@example\.com>$/, '').split(' ');
    expect(words.length).toBeGreaterThan(1);
    for (const w of words) expect(w.length).toBeLessThanOrEqual(75);
    const decoded = words.map((w) => Buffer.from(w.slice(10, -2), 'base64').toString('utf8')).join('');
    expect(decoded).toBe('Ünïcödé '.repeat(12).trim());
  });

  it.each([
    ['ada@example.com\r\nBcc: victim@example.com', undefined, /control character \(U\+000D\)/],
    ['ada@example.com\nBcc: victim@example.com', undefined, /control character \(U\+000A\)/],
    ['ada@example.com', 'Ada\r\nBcc: victim@example.com', /name contains a control character \(U\+000D\)/],
    ['ada@example.com', 'Ada\nBcc: victim@example.com', /name contains a control character/],
    ['ada@exam\u0000ple.com', undefined, /control character \(U\+0000\)/],
    ['ada@example.com', 'Ada\u0000', /control character \(U\+0000\)/],
    ['ada@example.com', 'Ada\u2028Bcc', /control character \(U\+2028\)/],
    ['ada@example.com', 'Ada\u202eevil', /control character \(U\+202E\)/],
    ['ada@example.com,eve@example.com', undefined, /single plain address/],
    ['ada@example.com;eve@example.com', undefined, /single plain address/],
    ['Ada <ada@example.com>', undefined, /single plain address/],
    ['ada @example.com', undefined, /whitespace/],
    ['ada@example.com\t', undefined, /control character \(U\+0009\)/],
    ['"ada"@example.com', undefined, /not a plain local part/],
    ['ada(comment)@example.com', undefined, /not a plain local part/],
    ['ada..x@example.com', undefined, /not a plain local part/],
    ['ada@evil@example.com', undefined, /exactly one @/],
    ['ada.example.com', undefined, /exactly one @/],
    ['ada@-example.com', undefined, /not a domain name/],
    ['ada@example..com', undefined, /not a domain name/],
    ['ada@[127.0.0.1]', undefined, /not a domain name/],
    ['adä@example.com', undefined, /non-ASCII/],
    ['', undefined, /empty/],
    [`${'a'.repeat(65)}@example.com`, undefined, /local part/],
    ['ada@example.com', 'A'.repeat(201), /longer than 200/],
  ])('refuses %j (name %j)', (email, name, reason) => {
    const result = checkAddress(email, name);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});
