import { describe, expect, it } from 'vitest';
import { basicAuthHeader, checkBasicAuth, constantTimeEqual } from './auth.ts';

describe('checkBasicAuth', () => {
  it("accepts the v3 reference's example header", () => {
    // Authorization: Basic YWRkb24tc2x1ZzpzdXBlci1zZWNyZXQ= for id addon-slug, password super-secret.
    expect(checkBasicAuth('Basic YWRkb24tc2x1ZzpzdXBlci1zZWNyZXQ=', 'addon-slug', 'super-secret')).toBe(true);
    expect(basicAuthHeader('addon-slug', 'super-secret')).toBe('Basic YWRkb24tc2x1ZzpzdXBlci1zZWNyZXQ=');
  });

  it('refuses a wrong id, a wrong password and a password that only shares a prefix', () => {
    expect(checkBasicAuth(basicAuthHeader('other', 'super-secret'), 'addon-slug', 'super-secret')).toBe(
      false,
    );
    expect(checkBasicAuth(basicAuthHeader('addon-slug', 'wrong'), 'addon-slug', 'super-secret')).toBe(false);
    expect(checkBasicAuth(basicAuthHeader('addon-slug', 'super-secretX'), 'addon-slug', 'super-secret')).toBe(
      false,
    );
    expect(checkBasicAuth(basicAuthHeader('addon-slug', 'super'), 'addon-slug', 'super-secret')).toBe(false);
  });

  it('refuses missing, non-basic and malformed headers', () => {
    expect(checkBasicAuth(undefined, 'a', 'b')).toBe(false);
    expect(checkBasicAuth('', 'a', 'b')).toBe(false);
    expect(checkBasicAuth('Bearer abc', 'a', 'b')).toBe(false);
    expect(checkBasicAuth(`Basic ${Buffer.from('no-colon').toString('base64')}`, 'no-colon', '')).toBe(false);
    expect(checkBasicAuth('Basic !!!', 'a', 'b')).toBe(false);
  });

  it('accepts a password containing colons and a lower-case scheme', () => {
    const header = basicAuthHeader('addon', 'pa:ss:word').replace('Basic', 'basic');
    expect(checkBasicAuth(header, 'addon', 'pa:ss:word')).toBe(true);
  });

  it('accepts any of several passwords during a rotation, never an empty one', () => {
    expect(checkBasicAuth(basicAuthHeader('addon', 'old'), 'addon', ['old', 'new'])).toBe(true);
    expect(checkBasicAuth(basicAuthHeader('addon', 'new'), 'addon', ['old', 'new'])).toBe(true);
    expect(checkBasicAuth(basicAuthHeader('addon', 'gone'), 'addon', ['old', 'new'])).toBe(false);
    expect(checkBasicAuth(basicAuthHeader('addon', ''), 'addon', '')).toBe(false);
    expect(checkBasicAuth(basicAuthHeader('addon', 'x'), 'addon', [])).toBe(false);
  });
});

describe('constantTimeEqual', () => {
  it('compares strings of different lengths without throwing', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  });
});
