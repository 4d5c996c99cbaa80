import { randomUUID } from 'node:crypto';
import { basicAuthHeader, ssoLoginFields } from '@meterline/heroku';
import { ResourceStore, UUID } from '@meterline/resources';
import { schemaFingerprint, type TestWorld, worldTest } from '@meterline/test/support';
import fc from 'fast-check';
import { describe, expect } from 'vitest';
import {
  ADDON_ID,
  ADDON_PASSWORD,
  API_TOKEN,
  heroku,
  provisionBody,
  SSO_SALT,
  startTestApi,
} from './testkit.ts';
import type { RunningApi } from './wire.ts';

/**
 * The api under bad input (issue 23's corpus): every bad request gets a clear 4xx — a JSON `message` on
 * the JSON routes — never a 5xx or a stack trace, and the store does not change. A fixed list of the
 * cases a new user and an attacker try, and generated bodies (fast-check).
 */
const HOSTILE = [
  "'; DROP TABLE users; --",
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  '../../etc/passwd',
  '\u0000\u0007\u001b[2J',
  '𝕸𝖊𝖙𝖊𝖗 ☃ zoë',
  'x'.repeat(10_000),
];

const it = worldTest('apibadinput');

describe('the api refuses bad input clearly and changes nothing', () => {
  let api: RunningApi;
  let live: string;

  it.beforeAll(async ({ world }) => {
    api = await startTestApi(world, { PROVISIONING_MODE: 'sync' }, Date.now);
    const body = provisionBody({ plan: 'basic' });
    live = body.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(200);
  });
  it.afterAll(async () => {
    await api?.stop();
  });

  /** Sends a raw request. */
  async function send(
    method: string,
    path: string,
    opts: { body?: string; headers?: Record<string, string>; auth?: string | null } = {},
  ) {
    const headers: Record<string, string> = {
      accept: 'application/vnd.heroku-addons+json; version=3',
      ...opts.headers,
    };
    const auth = opts.auth === undefined ? basicAuthHeader(ADDON_ID, ADDON_PASSWORD) : opts.auth;
    if (auth) headers.authorization = auth;
    const res = await fetch(`${api.url}${path}`, { method, headers, body: opts.body, redirect: 'manual' });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  }

  /** A refusal as the issue wants it: 4xx, no stack, and on JSON routes a JSON message. */
  function refused(r: { status: number; type: string; text: string }, json = true) {
    expect(r.status, r.text.slice(0, 300)).toBeGreaterThanOrEqual(400);
    expect(r.status, r.text.slice(0, 300)).toBeLessThan(500);
    expect(r.text).not.toMatch(/\n\s+at [^\n]+\(/); // no stack trace
    if (json) {
      expect(r.type).toContain('json');
      const message = (JSON.parse(r.text) as { message?: unknown }).message;
      expect(typeof message === 'string' && message.length > 0, r.text).toBe(true);
    }
  }

  /** The tables that legitimately record refusals (the audit log of sign-ins) are left out. */
  const store = async (world: TestWorld) => {
    const all = await schemaFingerprint(world.pool, world.schema);
    delete all.audit_log;
    return all;
  };

  it('empty bodies with a JSON content type: refused where a body is needed, and DELETE still deprovisions', async ({
    world,
  }) => {
    const before = await store(world);
    const json = { 'content-type': 'application/json' };
    refused(await send('POST', '/heroku/resources', { headers: json, body: '' }));
    refused(await send('PUT', `/heroku/resources/${live}`, { headers: json, body: '' }));
    expect(await store(world)).toEqual(before);

    const gone = provisionBody({ plan: 'basic' });
    expect((await heroku(api, 'POST', '/heroku/resources', gone)).status).toBe(200);
    const del = await send('DELETE', `/heroku/resources/${gone.uuid}`, { headers: json, body: '' });
    expect(del.status, del.text).toBeLessThan(300);
    expect((await new ResourceStore(world.pool).get(gone.uuid as string))?.state).toBe('deprovisioned');
  });

  it('malformed, deeply nested and oversized JSON, wrong auth, wrong ids: 4xx with a message', async ({
    world,
  }) => {
    const before = await store(world);
    const json = { 'content-type': 'application/json' };
    const cases: [
      string,
      string,
      { body?: string; headers?: Record<string, string>; auth?: string | null },
    ][] = [
      ['POST', '/heroku/resources', { headers: json, body: '{"uuid": ' }],
      ['POST', '/heroku/resources', { headers: json, body: '{"uuid": "a", "uuid": }' }],
      ['POST', '/heroku/resources', { headers: json, body: `${'['.repeat(50_000)}${']'.repeat(50_000)}` }],
      [
        'POST',
        '/heroku/resources',
        { headers: json, body: JSON.stringify({ ...provisionBody(), pad: 'x'.repeat(2_000_000) }) },
      ],
      ['POST', '/heroku/resources', { headers: json, body: '"just a string"' }],
      ['POST', '/heroku/resources', { headers: json, body: '[1, 2, 3]' }],
      ['POST', '/heroku/resources', { headers: json, body: 'null' }],
      ['POST', '/heroku/resources', { headers: { 'content-type': 'text/plain' }, body: 'uuid=1' }],
      ['POST', '/heroku/resources', { headers: json, body: JSON.stringify(provisionBody()), auth: null }],
      [
        'POST',
        '/heroku/resources',
        { headers: json, body: JSON.stringify(provisionBody()), auth: 'Basic !!!' },
      ],
      [
        'POST',
        '/heroku/resources',
        { headers: json, body: JSON.stringify(provisionBody()), auth: basicAuthHeader(ADDON_ID, 'wrong') },
      ],
      ['PUT', '/heroku/resources/not-a-uuid', { headers: json, body: JSON.stringify({ plan: 'pro' }) }],
      ['PUT', `/heroku/resources/${randomUUID()}`, { headers: json, body: JSON.stringify({ plan: 'pro' }) }],
      [
        'PUT',
        `/heroku/resources/${live}`,
        { headers: json, body: JSON.stringify({ plan: { nested: true } }) },
      ],
      ['DELETE', `/heroku/resources/${live}`, { auth: null }],
      ['GET', '/api/v1/resources/not-a-uuid/usage', { auth: `Bearer ${API_TOKEN}` }],
      ['GET', `/api/v1/resources/${live}/usage`, { auth: 'Bearer wrong' }],
      ['GET', `/api/v1/resources/${live}/usage`, { auth: null }],
    ];
    for (const [method, path, opts] of cases) {
      const r = await send(method, path, opts);
      refused(r);
    }
    // A deprovision is never refused (DESIGN rule 8): an id that is not a uuid was never ours, so it is gone.
    expect((await send('DELETE', '/heroku/resources/not-a-uuid')).status).toBe(204);
    expect(await store(world)).toEqual(before);
  });

  it('hostile strings in every field of a provision: refused, nothing stored', async ({ world }) => {
    const before = await store(world);
    for (const bad of HOSTILE) {
      for (const field of ['uuid', 'plan', 'region'] as const) {
        const r = await send('POST', '/heroku/resources', {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(provisionBody({ [field]: bad })),
        });
        refused(r);
      }
      const plan = await send('PUT', `/heroku/resources/${live}`, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ plan: bad }),
      });
      refused(plan);
    }
    expect(await store(world)).toEqual(before);
  });

  it('SSO: a swapped email is not shown, a replay, stale or broken form is refused', async ({ world }) => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const post = (fields: Record<string, string>) =>
      send('POST', '/sso/login', { headers: form, body: new URLSearchParams(fields).toString(), auth: null });
    let second = Math.floor(Date.now() / 1000) - 200;
    // Each form its own timestamp, so that only the case itself, not the replay rule, decides it.
    const fields = (over: Record<string, string> = {}) => ({
      ...ssoLoginFields({
        resourceId: live,
        salt: SSO_SALT,
        email: 'owner@acme.test',
        userId: randomUUID(),
        app: 'acme',
        timestamp: second++,
      }),
      ...over,
    });
    // The legacy sha1 token does not cover the email: a form with another one may sign in, but the
    // dashboard must not show the email it was not given by Heroku.
    const res = await fetch(`${api.url}/sso/login`, {
      method: 'POST',
      headers: form,
      body: new URLSearchParams(fields({ email: 'attacker@evil.test' })).toString(),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')?.split(';')[0];
    expect(cookie).toBeTruthy();
    const page = await (await fetch(`${api.url}/dashboard`, { headers: { cookie: cookie! } })).text();
    expect(page).toContain('Usage'); // the dashboard itself, not a refusal
    expect(page).not.toContain('attacker@evil.test');

    const before = await store(world);
    const used = fields();
    expect((await post(used)).status).toBeLessThan(400);
    const after = await store(world);
    const cases: Record<string, string>[] = [
      used, // a replay
      fields({ timestamp: String(Math.floor(Date.now() / 1000) - 3600) }),
      fields({ resource_token: '0'.repeat(40), user_scoped_resource_token: '0'.repeat(64) }),
      fields({ resource_id: 'not-a-uuid' }),
      fields({ resource_id: randomUUID() }),
      ...HOSTILE.filter((bad) => !bad.includes('\u0000')).map((bad) =>
        fields({ resource_token: bad, user_scoped_resource_token: bad }),
      ),
      {},
    ];
    for (const f of cases) {
      const r = await post(f);
      expect(
        r.status,
        `${JSON.stringify(f).slice(0, 120)} -> ${r.text.slice(0, 200)}`,
      ).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.text).not.toMatch(/\n\s+at [^\n]+\(/);
    }
    expect(await store(world)).toEqual(after);
    expect(after).not.toEqual(before); // the one good form did open a session
  });

  it('console sign-in and sign-up with hostile or unicode input: a 4xx page, no stack', async ({ world }) => {
    const before = await store(world);
    for (const bad of [...HOSTILE, '']) {
      for (const path of ['/console/login', '/console/signup']) {
        const r = await send('POST', path, {
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ email: bad, password: bad, name: bad }).toString(),
          auth: null,
        });
        refused(r, false);
        expect(r.text).not.toContain('<script>alert(1)</script>');
      }
    }
    expect(await store(world)).toEqual(before);
    // A unicode address is an address: signing up with one works, and signing in with it too.
    const unicode = { email: 'zoë@exämple.test', password: 'a long enough password', name: 'Zoë' };
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const signup = await send('POST', '/console/signup', {
      headers: form,
      body: new URLSearchParams(unicode).toString(),
      auth: null,
    });
    expect(signup.status, signup.text.slice(0, 300)).toBeLessThan(500);
    const login = await send('POST', '/console/login', {
      headers: form,
      body: new URLSearchParams(unicode).toString(),
      auth: null,
    });
    expect(login.status).toBeLessThan(500);
  });

  it('generated provision bodies never get a 5xx; a malformed one stores nothing', async ({ world }) => {
    const value = fc.oneof(
      fc.string(),
      fc.constantFrom(...HOSTILE),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
    );
    const body = fc.record(
      {
        uuid: fc.oneof(fc.uuid(), value),
        plan: fc.oneof(fc.constantFrom('hobby', 'basic', 'pro', 'enterprise'), value),
        region: fc.oneof(fc.constant('amazon-web-services::us-east-1'), value),
        name: value,
        options: fc.oneof(fc.dictionary(fc.string(), value), value),
        oauth_grant: fc.oneof(fc.constant(null), value, fc.record({ code: value, type: value })),
        extra: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const before = await store(world);
        const r = await send('POST', '/heroku/resources', {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(b),
        });
        expect(r.status, r.text.slice(0, 300)).toBeLessThan(500);
        if (r.status >= 400) {
          refused(r);
          // A well-formed request the policy refuses (a hidden plan, say) is recorded with its reason, as
          // provisions are; anything else leaves the store as it was.
          const kept =
            typeof b.uuid === 'string' && UUID.test(b.uuid)
              ? await new ResourceStore(world.pool).get(b.uuid)
              : null;
          if (kept?.state !== 'refused') expect(await store(world)).toEqual(before);
        }
      }),
      { numRuns: 60, seed: 20261207 },
    );
  });
});
