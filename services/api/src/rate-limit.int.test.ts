import { randomUUID } from 'node:crypto';
import { TeamAccess } from '@meterline/access';
import { basicAuthHeader } from '@meterline/heroku';
import { ResourceStore } from '@meterline/resources';
import { worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { ADDON_ID, CONSOLE_PASSWORD, heroku, provisionBody, startTestApi } from './testkit.ts';
import type { RunningApi } from './wire.ts';

const PASSWORD = CONSOLE_PASSWORD;

const it = worldTest('apilimits');

describe('rate limits on the Partner API and the console sign-in', () => {
  let api: RunningApi;

  it.beforeAll(async ({ world }) => {
    api = await startTestApi(
      world,
      {
        PROVISIONING_MODE: 'sync',
        PARTNER_API_RATE_PER_MINUTE: '4',
        SIGNIN_ATTEMPTS_PER_EMAIL: '3',
        SIGNIN_ATTEMPTS_PER_IP: '6',
      },
      Date.now,
    );
    await new TeamAccess(world.pool).createAccount(
      { email: 'honest@provider.test', name: 'Honest', password: PASSWORD },
      { accountId: null, email: 'test setup', ip: null },
    );
  });
  it.afterAll(async () => {
    await api?.stop();
  });

  function expectTooMany(res: { status: number; headers: Headers }, body: Record<string, unknown>) {
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(body.message).toMatch(/Try again in \d+ s\./);
  }

  it('limits the Partner API per client; guesses of the password do not spend the client bucket', async ({
    world,
  }) => {
    // Someone who knows the add-on id guesses the password: limited per address, after 4.
    const guess = { auth: basicAuthHeader(ADDON_ID, 'guess') };
    const guesses = [];
    for (let i = 0; i < 6; i++) guesses.push(await heroku(api, 'POST', '/heroku/resources', {}, guess));
    expect(guesses.map((g) => g.status)).toEqual([401, 401, 401, 401, 429, 429]);

    // Heroku itself, from the same address, is unaffected.
    const body = provisionBody({ plan: 'basic' });
    const id = body.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(200);
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(200);
    expect((await heroku(api, 'PUT', `/heroku/resources/${id}`, { plan: 'pro' })).status).toBe(200);
    expect((await heroku(api, 'PUT', `/heroku/resources/${randomUUID()}`, { plan: 'pro' })).status).toBe(404);

    // Past its 4 a minute: 429 with Retry-After and a JSON message, and nothing changes.
    const over = await fetch(`${api.url}/heroku/resources/${id}`, {
      method: 'PUT',
      headers: {
        authorization: basicAuthHeader(ADDON_ID, 'partner-secret'),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ plan: 'basic' }),
    });
    const overBody = (await over.json()) as Record<string, unknown>;
    expectTooMany(over, overBody);
    expect(overBody.message).toContain('4 Partner API requests a minute');
    expect((await new ResourceStore(world.pool).get(id))?.plan).toBe('pro');

    // A deprovision is never refused, not even over the limit.
    expect((await heroku(api, 'DELETE', `/heroku/resources/${id}`)).status).toBe(204);
    expect((await new ResourceStore(world.pool).get(id))?.state).toBe('deprovisioned');
    const metrics = await (await fetch(`${api.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/meterline_api_rate_limited_total\{limit="partner",service="api"\} 1/);
    expect(metrics).toMatch(
      /meterline_api_rate_limited_total\{limit="partner_auth_failures",service="api"\} 2/,
    );
  });

  it('limits console sign-in per email and per address, before any password is checked', async () => {
    const signIn = (email: string, password: string, accept = 'application/json') =>
      fetch(`${api.url}/console/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept },
        body: new URLSearchParams({ email, password }).toString(),
        redirect: 'manual',
      });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await signIn('victim@provider.test', `guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401]);
    const fourth = await signIn('Victim@Provider.test', 'guess-3');
    const fourthBody = (await fourth.json()) as Record<string, unknown>;
    expectTooMany(fourth, fourthBody);
    expect(fourthBody.message).toContain('for this email');

    // An honest person at the same address signs in, more often than an email's limit: what signs in
    // does not count.
    for (let i = 0; i < 5; i++) {
      const honest = await signIn('honest@provider.test', PASSWORD);
      expect(honest.status).toBe(303);
      expect(honest.headers.getSetCookie().some((c) => c.startsWith('meterline_console='))).toBe(true);
    }

    // The address has spent 4 of its 6: two more failures go through, then it is refused whatever the
    // email, and a browser gets the sign-in page with the reason.
    expect((await signIn('other@provider.test', 'nope')).status).toBe(401);
    expect((await signIn('another@provider.test', 'nope')).status).toBe(401);
    const page = await signIn('honest@provider.test', PASSWORD, 'text/html,application/xhtml+xml');
    expect(page.status).toBe(429);
    expect(Number(page.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('Too many attempts from this address.');
    const signup = await fetch(`${api.url}/console/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: 'new@provider.test', name: 'New', password: PASSWORD }).toString(),
    });
    expectTooMany(signup, (await signup.json()) as Record<string, unknown>);
  });
  it('behind a proxy, limits sign-in by the address the proxy saw, whatever X-Forwarded-For the client sent', async ({
    world,
  }) => {
    // The test is the proxy on loopback; it appends the address it saw to X-Forwarded-For, as a router
    // does. An attacker writes a new address into the header on every attempt: only the entry after the
    // trusted proxies counts.
    for (const trustProxy of ['127.0.0.1', 'loopback, 10.0.0.0/8']) {
      const proxied = await startTestApi(
        world,
        { PROVISIONING_MODE: 'sync', TRUST_PROXY: trustProxy, SIGNIN_ATTEMPTS_PER_IP: '3' },
        Date.now,
      );
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 4; i++) {
          const res = await fetch(`${proxied.url}/console/login`, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              accept: 'application/json',
              'x-forwarded-for': `198.51.100.${i + 1}, 203.0.113.7`,
            },
            body: new URLSearchParams({ email: `guess-${i}@provider.test`, password: 'nope' }).toString(),
          });
          statuses.push(res.status);
          if (res.status === 429)
            expect(((await res.json()) as { message: string }).message).toContain('address');
        }
        expect({ trustProxy, statuses }).toEqual({ trustProxy, statuses: [401, 401, 401, 429] });
        // Another address behind the same proxy has its own bucket.
        const other = await fetch(`${proxied.url}/console/login`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
            'x-forwarded-for': '203.0.113.8',
          },
          body: new URLSearchParams({ email: 'someone@provider.test', password: 'nope' }).toString(),
        });
        expect({ trustProxy, other: other.status }).toEqual({ trustProxy, other: 401 });
      } finally {
        await proxied.stop();
      }
    }
  });
});
