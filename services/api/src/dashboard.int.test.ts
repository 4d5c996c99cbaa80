import { randomUUID } from 'node:crypto';
import { AlertOutbox } from '@meterline/alerts';
import { seedSentEmail } from '@meterline/deliveries/fixtures';
import { ssoLoginFields } from '@meterline/heroku';
import { AccessStore } from '@meterline/resources';
import { backdateResources } from '@meterline/resources/fixtures';
import { daysLeft, formatQuantity, periodOf } from '@meterline/rules';
import { worldTest } from '@meterline/test/support';
import type { Browser } from 'playwright-core';
import { describe, expect } from 'vitest';
import {
  API_TOKEN,
  heroku,
  launchChromium,
  provisionBody,
  SSO_SALT,
  startTestApi,
  testClock,
  usageSeeder,
  watchedContext,
} from './testkit.ts';
import type { RunningApi } from './wire.ts';

const NOV_20 = Date.UTC(2026, 10, 20, 12);

/** The bit of the DOM the test's in-page code touches (the api's tsconfig has no DOM types). */
interface DomLike {
  createElement(tag: string): { textContent: string };
  head: { appendChild(node: unknown): void };
}
const seconds = (ms: number) => Math.floor(ms / 1000);

const it = worldTest('apidash');

describe('SSO, the usage JSON and the dashboard in a real browser', () => {
  let api: RunningApi;
  let browser: Browser | undefined;
  const clock = testClock(NOV_20);
  let id: string;
  let otherId: string;
  let seed: ReturnType<typeof usageSeeder>;

  const NOV_1 = Date.UTC(2026, 10, 1);
  const expectedProjection = () =>
    Math.round(((90_000 * (Date.UTC(2026, 11, 1) - NOV_1)) / (clock.now() - NOV_1)) * 100) / 100;

  function sso(over: { timestamp?: number; resourceId?: string; email?: string } = {}) {
    return ssoLoginFields({
      resourceId: over.resourceId ?? id,
      salt: SSO_SALT,
      email: over.email ?? 'dev@acme.test',
      userId: 'user-dev',
      timestamp: over.timestamp ?? seconds(clock.now()),
      app: 'acme-api',
      navData: 'nav-data-blob',
    });
  }

  async function postSso(fields: Record<string, string>, headers: Record<string, string> = {}, to = api) {
    return fetch(`${to.url}/sso/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });
  }

  async function sessionCookie(): Promise<string> {
    // Each login needs its own timestamp: one (resource, timestamp) signs in once.
    clock.set(clock.now() + 1000);
    const res = await postSso(sso());
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('meterline_session='));
    return cookie!.split(';')[0]!;
  }

  it.beforeAll(async ({ world }) => {
    // As behind Heroku's router, which sets X-Forwarded-Proto.
    api = await startTestApi(world, { PROVISIONING_MODE: 'sync', TRUST_PROXY: 'loopback' }, clock.now);
    seed = usageSeeder(world);
    const body = provisionBody({ plan: 'basic', name: 'acme-meter' });
    id = body.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(200);
    const other = provisionBody({ plan: 'hobby' });
    otherId = other.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', other)).status).toBe(200);
    // Provisioned on the 1st, so the whole month counts for pace and projection.
    await backdateResources(world.pool, [id], new Date(Date.UTC(2026, 10, 1)), 'acme-api');

    await seed.add(id, 'api_calls', 60_000, Date.UTC(2026, 10, 5), NOV_20);
    await seed.add(id, 'api_calls', 30_000, Date.UTC(2026, 10, 19), NOV_20);
    await seed.add(id, 'storage_gb', 2.5, Date.UTC(2026, 10, 19), NOV_20);
    await seed.add(id, 'exports', 42, Date.UTC(2026, 10, 19), NOV_20);

    // What the evaluator and the notifier record for the 90% crossing.
    const alertId = randomUUID();
    await new AlertOutbox(world.pool, 'test').record([
      {
        id: alertId,
        resourceId: id,
        plan: 'basic',
        metric: 'api_calls',
        period: periodOf(Date.UTC(2026, 10, 19)),
        kind: 'THRESHOLD',
        threshold: 90,
        severity: 'WARNING',
        used: 90_000,
        limit: 100_000,
        percent: 90,
        projected: null,
        expectedDailyAverage: 100_000 / 30,
        occurredAt: Date.UTC(2026, 10, 19, 8),
      },
    ]);
    await seedSentEmail(world.pool, {
      alertId,
      resourceId: id,
      alert: { metric: 'api_calls', kind: 'THRESHOLD', threshold: 90, severity: 'WARNING' },
      recipient: 'dev@acme.test',
      subject: 'acme-meter used 90% of its API calls',
      sentAt: new Date(Date.UTC(2026, 10, 19, 8, 1)),
    });
  });
  it.afterAll(async () => {
    await browser?.close();
    await api?.stop();
  });

  it('opens a session for a good login: HttpOnly, SameSite, Secure behind TLS, nav-data kept', async () => {
    const res = await postSso(sso());
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard');
    const cookies = res.headers.getSetCookie();
    const session = cookies.find((c) => c.startsWith('meterline_session='))!;
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Lax/i);
    expect(session).not.toMatch(/Secure/i);
    expect(cookies.find((c) => c.startsWith('heroku-nav-data='))).toContain('nav-data-blob');

    clock.set(clock.now() + 1000);
    const tls = await postSso(sso(), { 'x-forwarded-proto': 'https' });
    expect(tls.status).toBe(303);
    expect(tls.headers.getSetCookie().find((c) => c.startsWith('meterline_session='))).toMatch(/Secure/i);
  });

  it('ignores X-Forwarded-Proto unless TRUST_PROXY is set', async ({ world }) => {
    const direct = await startTestApi(world, { PROVISIONING_MODE: 'sync' }, clock.now);
    try {
      clock.set(clock.now() + 1000);
      const res = await postSso(sso(), { 'x-forwarded-proto': 'https' }, direct);
      expect(res.status).toBe(303);
      const session = res.headers.getSetCookie().find((c) => c.startsWith('meterline_session='));
      expect(session).toBeDefined();
      expect(session).not.toMatch(/Secure/i);
    } finally {
      await direct.stop();
    }
  });

  it('refuses a bad token, a stale or future timestamp, a replay and an unknown resource with 403', async () => {
    clock.set(clock.now() + 1000);
    const good = sso();
    const badToken = { ...good, user_scoped_resource_token: 'f'.repeat(64), resource_token: 'a'.repeat(40) };
    expect((await postSso(badToken)).status).toBe(403);
    // Someone else's email with the sha256 token of this one does not verify either.
    expect((await postSso({ ...good, email: 'mallory@evil.test', resource_token: '' })).status).toBe(403);
    // kensa's check: six minutes old.
    expect((await postSso(sso({ timestamp: seconds(clock.now()) - 360 }))).status).toBe(403);
    expect((await postSso(sso({ timestamp: seconds(clock.now()) + 120 }))).status).toBe(403);
    expect((await postSso(sso({ resourceId: randomUUID() }))).status).toBe(403);

    expect((await postSso(good)).status).toBe(303);
    const replay = await postSso(good);
    expect(replay.status).toBe(403);
    expect(replay.headers.getSetCookie()).toEqual([]);
  });

  it('serves the usage JSON to the bearer token and to the resource own SSO session, 401 otherwise', async () => {
    const url = `${api.url}/api/v1/resources/${id}/usage`;
    const cookie = await sessionCookie();
    const byToken = await fetch(url, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(byToken.status).toBe(200);
    const report = (await byToken.json()) as Record<string, unknown>;
    const usage = await seed.counters.periodUsage(id, '2026-11');
    expect(report).toMatchObject({
      resourceId: id,
      plan: 'basic',
      periodStart: '2026-11-01T00:00:00.000Z',
      periodEnd: '2026-12-01T00:00:00.000Z',
    });
    const metrics = report.metrics as {
      metric: string;
      used: number;
      limit: number | null;
      percent: number | null;
      projected: number | null;
      tiersCrossed: number[];
    }[];
    expect(metrics.map((m) => m.metric)).toEqual(['api_calls', 'storage_gb', 'webhooks', 'exports']);
    expect(metrics[0]).toEqual({
      metric: 'api_calls',
      used: usage.api_calls,
      limit: 100_000,
      percent: 90,
      projected: expect.any(Number),
      tiersCrossed: [50, 75, 90],
    });
    // 90,000 in about 19.5 of 30 days -> about 138,461 by the end of the month.
    expect(metrics[0]!.projected).toBe(expectedProjection());
    expect(metrics[1]).toMatchObject({
      metric: 'storage_gb',
      used: 2.5,
      limit: 10,
      percent: 25,
      tiersCrossed: [],
    });
    expect(metrics[3]).toMatchObject({
      metric: 'exports',
      used: 42,
      limit: null,
      percent: null,
      tiersCrossed: [],
    });
    const downgrades = report.downgrades as { plan: string; allowed: boolean; message: string }[];
    expect(downgrades).toHaveLength(1);
    expect(downgrades[0]).toMatchObject({ plan: 'hobby', allowed: false });
    expect(downgrades[0]!.message).toContain('December 1, 2026');

    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Basic ${API_TOKEN}` } })).status).toBe(401);
    const bySession = await fetch(url, { headers: { cookie } });
    expect(bySession.status).toBe(200);
    expect(await bySession.json()).toEqual(report);
    const foreign = await fetch(`${api.url}/api/v1/resources/${otherId}/usage`, { headers: { cookie } });
    expect(foreign.status).toBe(403);
    expect((await fetch(`${api.url}/dashboard`)).status).toBe(401);
    // The emails' link: the resource's own session sees it, another resource's link asks to sign in.
    expect((await fetch(`${api.url}/dashboard/${id}`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${api.url}/dashboard/${otherId}`, { headers: { cookie } })).status).toBe(401);
    expect((await fetch(`${api.url}/dashboard/${id}`)).status).toBe(401);
    expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${api.opsUrl}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${api.opsUrl}/metrics`)).text()).toContain('meterline_api_sso_logins_total');
  });

  it('renders the dashboard in headless Chromium with the counters numbers', async () => {
    browser = await launchChromium();
    const { context, violations } = await watchedContext(browser, {
      viewport: { width: 1200, height: 1600 },
    });
    const page = await context.newPage();
    clock.set(clock.now() + 1000);
    // Heroku's way in: the browser POSTs the SSO form, follows the redirect with its new cookie.
    const inputs = Object.entries(sso())
      .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
      .join('');
    await page.setContent(`<form id="f" method="post" action="${api.url}/sso/login">${inputs}</form>`);
    await Promise.all([
      page.waitForURL(`${api.url}/dashboard`),
      page.locator('#f').evaluate((f) => (f as unknown as { submit(): void }).submit()),
    ]);
    await page.screenshot({ path: '/tmp/meterline-dashboard.png', fullPage: true });

    const usage = await seed.counters.periodUsage(id, '2026-11');
    const card = page.locator('[data-metric="api_calls"]');
    expect(Number(await card.getAttribute('data-used'))).toBe(usage.api_calls);
    expect(await card.locator('.used').textContent()).toBe('90,000');
    expect(await card.locator('.limit').textContent()).toBe('100,000');
    expect(await card.locator('.percent').textContent()).toBe('(90%)');
    expect(await card.locator('.tier.crossed').allTextContents()).toEqual(['50%', '75%', '90%']);
    expect(await card.locator('.tier:not(.crossed)').allTextContents()).toEqual(['100%', '150%']);
    expect(await card.locator('.projected').textContent()).toBe(formatQuantity(expectedProjection()));
    expect(await card.locator('.pace').textContent()).toContain('ahead of pace');
    // The bar is drawn by the stylesheet the policy allows: its fill is 90% of its width.
    type Box = { getBoundingClientRect(): { width: number }; parentElement: Box };
    const fill = await card.locator('.fill').evaluate((el) => {
      const box = el as unknown as Box;
      return box.getBoundingClientRect().width / box.parentElement.getBoundingClientRect().width;
    });
    expect(fill).toBeCloseTo(0.9, 2);

    const storage = page.locator('[data-metric="storage_gb"]');
    expect(await storage.locator('.used').textContent()).toBe('2.5');
    expect(await storage.locator('.limit').textContent()).toBe('10 GB');
    expect(await page.locator('[data-metric="exports"] .used').textContent()).toBe('42');

    const daysLeftShown = await page.locator('.period').getAttribute('data-days-left');
    expect(Number(daysLeftShown)).toBe(daysLeft(periodOf(clock.now()), clock.now()));
    expect(await page.locator('.plan').textContent()).toBe('Basic');

    const hobby = page.locator('.downgrade[data-plan="hobby"]');
    expect(await hobby.getAttribute('data-allowed')).toBe('false');
    const reason = (await hobby.locator('.reason').textContent()) ?? '';
    expect(reason).toContain('90,000 API calls');
    expect(reason).toContain('10,000');
    expect(reason).toContain('December 1, 2026');

    expect(await page.locator('table.alerts tbody tr').count()).toBe(1);
    expect(await page.locator('table.alerts tbody').textContent()).toContain('90% of the allowance');
    expect(await page.locator('table.emails tbody').textContent()).toContain(
      'acme-meter used 90% of its API calls',
    );
    expect(await page.locator('.who').textContent()).toBe('dev@acme.test');

    // The page needed nothing the Content-Security-Policy refuses; and the policy is enforced and watched:
    // a style element added to the page is refused, and reported.
    expect(violations).toEqual([]);
    await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: DomLike }).document;
      const style = doc.createElement('style');
      style.textContent = 'body{color:red}';
      doc.head.appendChild(style);
    });
    await expect.poll(() => violations.join('\n')).toContain('style-src');
    await context.close();
  });

  it('ends a dashboard session at its hard lifetime, however much it is used', async () => {
    clock.set(clock.now() + 1000);
    const res = await postSso(sso());
    const set = res.headers.getSetCookie().find((c) => c.startsWith('meterline_session='))!;
    expect(set).toMatch(/Max-Age=3600/);
    const cookie = set.split(';')[0]!;
    const opened = clock.now();
    const dash = () => fetch(`${api.url}/dashboard`, { headers: { cookie } });
    for (const minutes of [1, 30, 59]) {
      clock.set(opened + minutes * 60_000);
      expect((await dash()).status).toBe(200);
    }
    clock.set(opened + 60 * 60_000 + 1000);
    expect((await dash()).status).toBe(401);
    expect((await fetch(`${api.url}/api/v1/resources/${id}/usage`, { headers: { cookie } })).status).toBe(
      401,
    );
  });

  it('ends a session once its person has left the app access list', async ({ world }) => {
    const access = new AccessStore(world.pool);
    const cookie = await sessionCookie();
    const dash = () => fetch(`${api.url}/dashboard`, { headers: { cookie } });
    // Never synced (no Platform API token): the list says nothing, the SSO login stands.
    expect((await dash()).status).toBe(200);
    await access.replace(id, [{ email: 'DEV@acme.test', userId: 'user-dev', role: 'admin' }], clock.now());
    expect((await dash()).status).toBe(200);
    // The same Heroku user under a new email is still the same person.
    await access.replace(id, [{ email: 'dev@new.test', userId: 'user-dev', role: 'member' }], clock.now());
    expect((await dash()).status).toBe(200);

    await access.replace(id, [{ email: 'boss@acme.test', userId: 'user-boss', role: 'owner' }], clock.now());
    expect((await dash()).status).toBe(401);
    // Ended, not hidden: back on the list, the old cookie stays out; a new SSO login gets in.
    await access.replace(id, [{ email: 'dev@acme.test', userId: 'user-dev', role: 'admin' }], clock.now());
    expect((await dash()).status).toBe(401);
    expect((await fetch(`${api.url}/api/v1/resources/${id}/usage`, { headers: { cookie } })).status).toBe(
      401,
    );
    const again = await sessionCookie();
    expect((await fetch(`${api.url}/dashboard`, { headers: { cookie: again } })).status).toBe(200);
  });

  it('never shows the email of a legacy sha1 sign-in, and keeps such a session short', async () => {
    clock.set(clock.now() + 1000);
    // The sha1 resource_token covers no user: whoever holds a form may change its email and drop the
    // user-scoped token.
    const forged = { ...sso(), email: 'boss@acme.test', user_scoped_resource_token: '' };
    const res = await postSso(forged);
    expect(res.status).toBe(303);
    const set = res.headers.getSetCookie().find((c) => c.startsWith('meterline_session='))!;
    expect(set).toMatch(/Max-Age=300/);
    const cookie = set.split(';')[0]!;
    const opened = clock.now();
    const page = await fetch(`${api.url}/dashboard`, { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div class="who">Signed in through Heroku (email not verified)</div>');
    expect(html).not.toContain('boss@acme.test');
    clock.set(opened + 5 * 60_000 + 1000);
    expect((await fetch(`${api.url}/dashboard`, { headers: { cookie } })).status).toBe(401);
  });

  it('sends a strict Content-Security-Policy, nosniff and a Referrer-Policy with every page', async () => {
    const cookie = await sessionCookie();
    clock.set(clock.now() + 1000);
    const pages = [
      await fetch(`${api.url}/dashboard`, { headers: { cookie } }),
      await fetch(`${api.url}/dashboard`),
      await postSso({ ...sso(), resource_token: '', user_scoped_resource_token: '' }),
      await fetch(`${api.url}/console/login`),
      await fetch(`${api.url}/console/signup`),
      await fetch(`${api.url}/heroku/resources`, { method: 'POST' }),
    ];
    expect(pages.map((r) => r.status)).toEqual([200, 401, 403, 200, 200, 401]);
    for (const res of pages) {
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+' 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('script-src');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('same-origin');
    }
    // No page carries a style attribute or a script for the policy to refuse.
    for (const res of pages.slice(0, 5)) {
      const html = await res.text();
      expect(html).not.toMatch(/\sstyle=|<script|\son[a-z]+=/i);
    }
  });
});
