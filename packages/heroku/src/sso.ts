import { createHash } from 'node:crypto';
import { constantTimeEqual } from './auth.ts';

/** The form fields of Heroku's SSO POST, as a body parser gives them (extra fields are ignored). */
export type SsoFields = Record<string, unknown>;

export interface SsoOptions {
  /** `api.sso_salt` from the add-on manifest. */
  salt: string;
  /** The current time in milliseconds (Date.now()). */
  now: number;
  maxAgeSeconds?: number;
  maxFutureSkewSeconds?: number;
}

export type SsoLogin =
  | {
      ok: true;
      resourceId: string;
      email: string;
      /** true only when the user-scoped sha256 token verified: only that token covers the email and user id. */
      emailVerified: boolean;
      token: 'user_scoped_resource_token' | 'resource_token';
      userId?: string;
      app?: string;
      navData?: string;
      /** Heroku's timestamp, in unix seconds. */
      timestamp: number;
    }
  | { ok: false; reason: string };

const sha1Hex = (s: string) => createHash('sha1').update(s, 'utf8').digest('hex');
const sha256Hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** `resource_token` (and the legacy v1 `token`): sha1 hex of `resource_id:salt:timestamp`. */
export function ssoResourceToken(resourceId: string, salt: string, timestamp: number | string): string {
  return sha1Hex(`${resourceId}:${salt}:${timestamp}`);
}

/** `user_scoped_resource_token`: sha256 hex of `resource_id:salt:timestamp:user_id:email`. */
export function ssoUserScopedResourceToken(
  resourceId: string,
  salt: string,
  timestamp: number | string,
  userId: string,
  email: string,
): string {
  return sha256Hex(`${resourceId}:${salt}:${timestamp}:${userId}:${email}`);
}

/** Builds the form Heroku would POST to the sso_url, with both tokens; for tests and the demo. */
export function ssoLoginFields(input: {
  resourceId: string;
  salt: string;
  email: string;
  userId: string;
  /** unix seconds; defaults to now */
  timestamp?: number;
  app?: string;
  navData?: string;
}): Record<string, string> {
  const timestamp = input.timestamp ?? Math.floor(Date.now() / 1000);
  const fields: Record<string, string> = {
    resource_id: input.resourceId,
    resource_token: ssoResourceToken(input.resourceId, input.salt, timestamp),
    user_scoped_resource_token: ssoUserScopedResourceToken(
      input.resourceId,
      input.salt,
      timestamp,
      input.userId,
      input.email,
    ),
    timestamp: String(timestamp),
    user_id: input.userId,
    email: input.email,
  };
  if (input.app !== undefined) fields.app = input.app;
  if (input.navData !== undefined) fields['nav-data'] = input.navData;
  return fields;
}

function field(fields: SsoFields, name: string): string | undefined {
  const value = fields[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Verifies Heroku's SSO POST. The user-scoped sha256 token is tried first; the sha1 resource_token is the
 * fallback, in which case the email is not covered by the hash (emailVerified: false).
 */
export function verifySsoLogin(fields: SsoFields, options: SsoOptions): SsoLogin {
  const { salt, now, maxAgeSeconds = 300, maxFutureSkewSeconds = 60 } = options;
  if (!salt) return { ok: false, reason: 'the SSO salt is not configured' };
  const resourceId = field(fields, 'resource_id');
  if (!resourceId) return { ok: false, reason: 'resource_id is missing' };
  const rawTimestamp = field(fields, 'timestamp');
  if (!rawTimestamp || !/^\d{1,12}$/.test(rawTimestamp)) {
    return { ok: false, reason: 'timestamp is missing or not unix seconds' };
  }
  const timestamp = Number(rawTimestamp);
  const ageSeconds = now / 1000 - timestamp;
  if (ageSeconds > maxAgeSeconds) {
    return {
      ok: false,
      reason: `timestamp is ${Math.round(ageSeconds)} s old, more than ${maxAgeSeconds} s`,
    };
  }
  if (-ageSeconds > maxFutureSkewSeconds) {
    return {
      ok: false,
      reason: `timestamp is ${Math.round(-ageSeconds)} s in the future, more than ${maxFutureSkewSeconds} s`,
    };
  }
  const email = field(fields, 'email');
  if (!email) return { ok: false, reason: 'email is missing' };
  const userId = field(fields, 'user_id');

  let token: 'user_scoped_resource_token' | 'resource_token' | null = null;
  const userScoped = field(fields, 'user_scoped_resource_token');
  if (userScoped && userId) {
    const expected = ssoUserScopedResourceToken(resourceId, salt, rawTimestamp, userId, email);
    if (constantTimeEqual(userScoped.toLowerCase(), expected)) token = 'user_scoped_resource_token';
  }
  if (!token) {
    const resourceToken = field(fields, 'resource_token');
    if (resourceToken) {
      const expected = ssoResourceToken(resourceId, salt, rawTimestamp);
      if (constantTimeEqual(resourceToken.toLowerCase(), expected)) token = 'resource_token';
    }
  }
  if (!token) return { ok: false, reason: 'no SSO token matches' };

  const login: SsoLogin = {
    ok: true,
    resourceId,
    email,
    emailVerified: token === 'user_scoped_resource_token',
    token,
    timestamp,
  };
  if (userId) login.userId = userId;
  const app = field(fields, 'app');
  if (app) login.app = app;
  const navData = field(fields, 'nav-data');
  if (navData) login.navData = navData;
  return login;
}

/**
 * A key naming one SSO login, for the api's "already used" store (keep it for maxAge + skew seconds).
 * Only resource_id and timestamp are in it: every other field can be stripped or changed by whoever replays a
 * captured form (the sha1 token covers no user), so a key holding them would let a replay through. The cost:
 * two users opening the same resource in the same second; the second one simply clicks again.
 */
export function ssoReplayKey(fields: SsoFields): string {
  return `sso:${field(fields, 'resource_id') ?? ''}:${field(fields, 'timestamp') ?? ''}`;
}
