/** Parsing of the Add-on Partner API v3 request bodies. Unknown fields are accepted and ignored (v3 reference). */
import { isPlanSlug } from '@meterline/rules';

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export interface OAuthGrant {
  code: string;
  /** As Heroku sends it, e.g. `2026-03-03T18:01:31-0800`; the code is good for about 5 minutes. */
  expiresAt: string | null;
  type: string;
}

export interface ProvisionRequest {
  /** Heroku's id of the add-on resource; the idempotency key and the `id` to answer with. */
  uuid: string;
  plan: string;
  region: string | null;
  name: string | null;
  callbackUrl: string | null;
  options: Record<string, unknown>;
  oauthGrant: OAuthGrant | null;
  logInputUrl: string | null;
  logDrainToken: string | null;
}

export interface PlanChangeRequest {
  plan: string;
  /** Sent by some senders; kensa sends a random one, so it is informative only, never checked against the path. */
  uuid: string | null;
  herokuId: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class Invalid extends Error {}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requiredString(body: Record<string, unknown>, name: string, label = name): string {
  const value = body[name];
  if (typeof value !== 'string' || value.trim() === '')
    throw new Invalid(`${label} must be a non-empty string`);
  return value;
}

function optionalString(body: Record<string, unknown>, name: string, label = name): string | null {
  const value = body[name];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new Invalid(`${label} must be a string when given`);
  return value === '' ? null : value;
}

function parseBody<T>(body: unknown, parse: (b: Record<string, unknown>) => T): Parsed<T> {
  if (!isObject(body)) return { ok: false, message: 'the request body must be a JSON object' };
  try {
    return { ok: true, value: parse(body) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, message: err.message };
    throw err;
  }
}

function parseOAuthGrant(value: unknown): OAuthGrant | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw new Invalid('oauth_grant must be an object with a code, or null');
  return {
    code: requiredString(value, 'code', 'oauth_grant.code'),
    expiresAt: optionalString(value, 'expires_at', 'oauth_grant.expires_at'),
    type: optionalString(value, 'type', 'oauth_grant.type') ?? 'authorization_code',
  };
}

/** The request's plan, refused unless it has the form of a plan name (a well-formed name the catalog
 * lacks is the policy's to refuse, with its answer recorded). */
function planName(b: Record<string, unknown>): string {
  const plan = requiredString(b, 'plan');
  if (!isPlanSlug(plan)) throw new Invalid('plan must be a plan name such as basic or pro-2');
  return plan;
}

/** A v3 region: provider and region slugs, e.g. amazon-web-services::us-east-1. */
const REGION = /^[a-z0-9-]{1,64}::[a-z0-9-]{1,64}$/;

/** `POST /heroku/resources`. */
export function parseProvisionRequest(body: unknown): Parsed<ProvisionRequest> {
  return parseBody(body, (b) => {
    const uuid = requiredString(b, 'uuid');
    if (!UUID.test(uuid))
      throw new Invalid('uuid must be a UUID such as 7e5d8a3c-1f0b-4c1e-9d55-0a6f2b9e4c11');
    const options = b.options ?? {};
    if (!isObject(options)) throw new Invalid('options must be an object of custom options when given');
    const region = optionalString(b, 'region');
    if (region !== null && !REGION.test(region))
      throw new Invalid('region must be a Heroku region such as amazon-web-services::us-east-1');
    return {
      uuid,
      plan: planName(b),
      region,
      name: optionalString(b, 'name'),
      callbackUrl: optionalString(b, 'callback_url'),
      options,
      oauthGrant: parseOAuthGrant(b.oauth_grant),
      logInputUrl: optionalString(b, 'log_input_url'),
      logDrainToken: optionalString(b, 'log_drain_token'),
    };
  });
}

/** `PUT /heroku/resources/:id`: only `plan` is relied on (the exact v3 body is not documented in what we read). */
export function parsePlanChangeRequest(body: unknown): Parsed<PlanChangeRequest> {
  return parseBody(body, (b) => ({
    plan: planName(b),
    uuid: optionalString(b, 'uuid') ?? optionalString(b, 'heroku_uuid'),
    herokuId: optionalString(b, 'heroku_id'),
  }));
}
