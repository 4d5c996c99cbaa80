import { describe, expect, it } from 'vitest';
import {
  ssoLoginFields,
  ssoReplayKey,
  ssoResourceToken,
  ssoUserScopedResourceToken,
  verifySsoLogin,
} from './sso.ts';

const salt = 'sso-salt';
const resourceId = '7e5d8a3c-1f0b-4c1e-9d55-0a6f2b9e4c11';
const timestamp = 1_767_225_600; // 2026-01-01T00:00:00Z
const now = timestamp * 1000 + 10_000;
const user = { userId: 'b2f1c8e0-0000-4000-8000-000000000001', email: 'dev@acme.com' };

describe('SSO tokens', () => {
  it("matches the SSO doc's legacy sha1 test vector", () => {
    expect(ssoResourceToken('123', '2f97bfa52ca102f8874716e2eb1d3b4920ad0be4', 1267597772)).toBe(
      'bb466eb1d6bc345d11072c3cd25c311f21be130d',
    );
  });

  it('computes the user-scoped token as sha256 hex of id:salt:timestamp:user_id:email', () => {
    const token = ssoUserScopedResourceToken('r', 's', 1, 'u', 'e@x');
    // sha256("r:s:1:u:e@x"), computed independently with `printf 'r:s:1:u:e@x' | sha256sum`.
    expect(token).toBe('09cad787f8ce5cf90beec72a15b500921106f62f4b0bf964ea01c3f86059e49a');
  });
});

describe('verifySsoLogin', () => {
  const fields = ssoLoginFields({ resourceId, salt, timestamp, ...user, app: 'acme-api', navData: 'nav123' });

  it('accepts a fresh login and trusts the email through the user-scoped token', () => {
    const login = verifySsoLogin(fields, { salt, now });
    expect(login).toEqual({
      ok: true,
      resourceId,
      email: user.email,
      emailVerified: true,
      token: 'user_scoped_resource_token',
      userId: user.userId,
      app: 'acme-api',
      navData: 'nav123',
      timestamp,
    });
  });

  it('falls back to the sha1 resource_token, with the email not verified', () => {
    const { user_scoped_resource_token: _, ...legacy } = fields;
    const login = verifySsoLogin(legacy, { salt, now });
    expect(login).toMatchObject({ ok: true, token: 'resource_token', emailVerified: false });
  });

  it('does not verify an email changed after signing', () => {
    const forged = { ...fields, email: 'attacker@evil.com' };
    const login = verifySsoLogin(forged, { salt, now });
    // The user-scoped token no longer matches; the sha1 token still does but does not cover the email.
    expect(login).toMatchObject({ ok: true, token: 'resource_token', emailVerified: false });
    const withoutFallback = { ...forged, resource_token: undefined };
    expect(verifySsoLogin(withoutFallback, { salt, now })).toMatchObject({ ok: false });
  });

  it('refuses a wrong salt, a tampered resource id and a missing token', () => {
    expect(verifySsoLogin(fields, { salt: 'other', now })).toEqual({
      ok: false,
      reason: 'no SSO token matches',
    });
    expect(verifySsoLogin({ ...fields, resource_id: 'other' }, { salt, now }).ok).toBe(false);
    expect(
      verifySsoLogin({ ...fields, resource_token: '', user_scoped_resource_token: '' }, { salt, now }).ok,
    ).toBe(false);
  });

  it('accepts upper-case hex tokens', () => {
    const upper = { ...fields, user_scoped_resource_token: fields.user_scoped_resource_token!.toUpperCase() };
    expect(verifySsoLogin(upper, { salt, now })).toMatchObject({ ok: true, emailVerified: true });
  });

  it('refuses a timestamp older than the window (kensa sends one 6 minutes old)', () => {
    const sixMinutesLater = timestamp * 1000 + 6 * 60_000;
    const login = verifySsoLogin(fields, { salt, now: sixMinutesLater });
    expect(login.ok).toBe(false);
    expect(login).toMatchObject({ reason: expect.stringContaining('old') });
    expect(verifySsoLogin(fields, { salt, now: timestamp * 1000 + 300_000 }).ok).toBe(true);
    expect(verifySsoLogin(fields, { salt, now: sixMinutesLater, maxAgeSeconds: 600 }).ok).toBe(true);
  });

  it('refuses a timestamp too far in the future', () => {
    const early = timestamp * 1000 - 61_000;
    expect(verifySsoLogin(fields, { salt, now: early })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('future'),
    });
    expect(verifySsoLogin(fields, { salt, now: timestamp * 1000 - 59_000 }).ok).toBe(true);
  });

  it('refuses missing or malformed fields', () => {
    expect(verifySsoLogin({ ...fields, timestamp: 'yesterday' }, { salt, now }).ok).toBe(false);
    expect(verifySsoLogin({ ...fields, timestamp: undefined }, { salt, now }).ok).toBe(false);
    expect(verifySsoLogin({ ...fields, resource_id: undefined }, { salt, now }).ok).toBe(false);
    expect(verifySsoLogin({ ...fields, email: undefined }, { salt, now }).ok).toBe(false);
    expect(verifySsoLogin({ ...fields, timestamp: ['1', '2'] }, { salt, now }).ok).toBe(false);
    expect(verifySsoLogin(fields, { salt: '', now }).ok).toBe(false);
  });
});

describe('ssoReplayKey', () => {
  it('is the same for a replay even when the replayer strips or swaps the other fields', () => {
    const fields = ssoLoginFields({ resourceId, salt, timestamp, ...user });
    const stripped = { ...fields, user_scoped_resource_token: undefined, email: 'someone@else.com' };
    expect(ssoReplayKey(stripped)).toBe(ssoReplayKey(fields));
    expect(ssoReplayKey(fields)).toBe(`sso:${resourceId}:${timestamp}`);
    const later = ssoLoginFields({ resourceId, salt, timestamp: timestamp + 1, ...user });
    expect(ssoReplayKey(later)).not.toBe(ssoReplayKey(fields));
  });
});
