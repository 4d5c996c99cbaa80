import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ALL_PERMISSIONS, TeamAccess } from '@meterline/access';
import { type FakePlatform, startFakePlatform } from '@meterline/heroku/fake';
import { seedLedgerHours } from '@meterline/metering/fixtures';
import { ResourceStore } from '@meterline/resources';
import { backdateResources, seedResources } from '@meterline/resources/fixtures';
import { DAY, HOUR } from '@meterline/rules';
import { eventually, worldTest } from '@meterline/test/support';
import type { Browser, Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import {
  CONSOLE_PASSWORD,
  heroku,
  launchChromium,
  OAUTH_SECRET,
  PLANS_FILE,
  provisionBody,
  signInToConsole,
  startTestApi,
  watchedContext,
} from './testkit.ts';
import type { RunningApi } from './wire.ts';

const PASSWORD = CONSOLE_PASSWORD;
const now = new Date();
const lastMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
const twoMonthsAgo = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 2, 1);

const it = worldTest('apiadvisor');

describe('the plan advisor in headless Chromium', () => {
  let api: RunningApi;
  let fake: FakePlatform;
  let browser: Browser;
  let abuser: string;
  const script = { accountId: null, email: 'test setup', ip: null };

  it.beforeAll(async ({ world }) => {
    fake = await startFakePlatform({ clientSecret: OAUTH_SECRET });
    api = await startTestApi(
      world,
      { PROVISIONING_MODE: 'async', HEROKU_API_URL: fake.url, HEROKU_ID_URL: fake.idUrl },
      Date.now,
    );
    // The abuser is provisioned the way Heroku does it, so the api holds its Platform API token.
    fake.state.addApp({
      id: 'app-spam',
      name: 'spammy',
      owner: { id: 'u-spam', email: 'spam@example.test' },
    });
    const body = provisionBody({
      plan: 'hobby',
      oauth_grant: { code: `grant-${randomUUID()}`, type: 'authorization_code' },
    });
    abuser = body.uuid as string;
    fake.state.registerGrant((body.oauth_grant as { code: string }).code, {
      addonId: abuser,
      appId: 'app-spam',
      plan: 'hobby',
    });
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(202);
    const resources = new ResourceStore(world.pool);
    await eventually(async () => (await resources.get(abuser))?.state === 'provisioned', {
      what: 'provisioned',
    });
    await backdateResources(world.pool, [abuser], new Date(twoMonthsAgo));

    // Thirty quiet hobby customers and the abuser, over last month: ~100 calls a day each, and one day
    // of 50,000 calls from the abuser.
    const peers = await seedResources(
      world.pool,
      Array.from({ length: 30 }, (_, i) => ({
        plan: 'hobby',
        name: `quiet-${i}`,
        ownerId: `owner-${i}`,
        ownerEmail: `owner${i}@example.test`,
        provisionedAt: new Date(twoMonthsAgo),
      })),
    );
    const rows = [];
    for (const [i, id] of peers.entries())
      for (let d = 0; d < 28; d++)
        rows.push({
          resourceId: id,
          metric: 'api_calls',
          hour: lastMonth + d * DAY + 12 * HOUR,
          quantity: 90 + i,
        });
    for (let d = 0; d < 28; d++)
      rows.push({
        resourceId: abuser,
        metric: 'api_calls',
        hour: lastMonth + d * DAY + 12 * HOUR,
        quantity: d === 14 ? 50_000 : 100,
      });
    await seedLedgerHours(world.pool, rows);

    const team = new TeamAccess(world.pool);
    await team.createAccount({ email: 'admin@provider.test', name: 'Ada Admin', password: PASSWORD }, script);
    await team.addCompanyUser(
      { email: 'admin@provider.test', permissions: ALL_PERMISSIONS, superAdmin: true },
      script,
    );
    await team.createAccount({ email: 'sam@provider.test', name: 'Sam Support', password: PASSWORD }, script);
    await team.addCompanyUser(
      { email: 'sam@provider.test', permissions: ['support'], superAdmin: false },
      script,
    );
    browser = await launchChromium();
  });
  it.afterAll(async () => {
    await browser?.close();
    await api?.stop();
    await fake?.close();
  });

  const signIn = (page: Page, email: string) => signInToConsole(page, api.url, email);

  it('back-tests a proposed catalog, draws the histograms, and disables an abuser with a reason', async ({
    world,
  }) => {
    const { context, violations } = await watchedContext(browser);
    const page = await context.newPage();
    await signIn(page, 'admin@provider.test');
    await page.click('a[href="/console/advisor"]');
    // The form starts from the catalog in force; the proposal doubles hobby's API calls.
    const current = readFileSync(PLANS_FILE, 'utf8');
    expect(await page.inputValue('#catalog')).toBe(current);
    await page.fill(
      '#catalog',
      current.replace('limits: { api_calls: 10000,', 'limits: { api_calls: 20000,'),
    );
    await page.click('form[action="/console/advisor"] button[type=submit]');
    await page.waitForSelector('.advisor-summary');

    const hobby = page.locator('section.advisor-plan[data-plan="hobby"][data-metric="api_calls"]');
    await expect.poll(() => hobby.textContent()).toContain('10,000 → 20,000');
    // Every hobby resource-period is a bar somewhere; the abuser's 52,700 of 10,000 is in "≥150%" now.
    const counts = async (which: string) =>
      await hobby
        .locator(`svg.histogram rect.hbar.${which}`)
        .evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('data-count'))));
    const now_ = await counts('current');
    const proposed = await counts('proposed');
    expect(now_).toHaveLength(12);
    expect(now_.reduce((a, b) => a + b, 0)).toBe(proposed.reduce((a, b) => a + b, 0));
    expect(now_.at(-1)).toBeGreaterThanOrEqual(1);
    const heights = await hobby
      .locator('svg.histogram rect.hbar.current')
      .evaluateAll((bars) => bars.map((b) => b.getBoundingClientRect().height));
    // Drawn as laid out on the page (no stylesheet squashes the bars), not an empty frame.
    expect(Math.max(...heights)).toBeGreaterThan(50);

    // The abuser is listed, and only it.
    const signals = page.locator('tr.abuse');
    expect(await signals.count()).toBe(1);
    expect(await signals.first().getAttribute('data-resource')).toBe(abuser);

    // Heroku refusing the deprovision changes nothing here.
    fake.state.failNext(1, 403);
    await signals.first().locator('button.danger').click();
    await expect.poll(() => page.locator('.flash.error').textContent()).toContain('nothing changed');
    expect((await new ResourceStore(world.pool).get(abuser))?.state).toBe('provisioned');
    await page.goto(`${api.url}/console/advisor`);
    await page.click('form[action="/console/advisor"] button[type=submit]');
    await page.locator('tr.abuse').first().locator('button.danger').click();
    await expect.poll(() => page.locator('.flash.ok').textContent()).toContain('the customer is told why');
    expect(fake.state.stateOf(abuser)).toBe('deprovisioned');
    const resources = new ResourceStore(world.pool);
    expect((await resources.get(abuser))?.state).toBe('deprovisioned');
    const history = await resources.events(abuser);
    expect(history.at(-1)).toMatchObject({
      kind: 'deprovision',
      detail: { disabledBy: 'admin@provider.test', reason: expect.stringContaining('50,000 api calls') },
    });
    await page.goto(`${api.url}/console/audit`);
    expect(await page.locator('tr[data-action="resource.disabled"]').count()).toBe(1);
    expect(await page.locator('tr[data-action="advisor.backtest"]').count()).toBe(2);
    // Every page above worked under the Content-Security-Policy.
    expect(violations).toEqual([]);
  });

  it('needs the billing permission to see it, and refuses a bad catalog or month with its message', async () => {
    const page = await (await browser.newContext()).newPage();
    await signIn(page, 'sam@provider.test');
    expect(await page.locator('a[href="/console/advisor"]').count()).toBe(0);
    const res = await page.goto(`${api.url}/console/advisor`);
    expect(res?.status()).toBe(403);
    expect(await page.locator('.flash.error').textContent()).toContain('billing');

    const admin = await (await browser.newContext()).newPage();
    await signIn(admin, 'admin@provider.test');
    await admin.goto(`${api.url}/console/advisor`);
    await admin.fill('#catalog', 'plans: []\nmetrics: {}\n');
    await admin.click('form[action="/console/advisor"] button[type=submit]');
    await expect.poll(() => admin.locator('.flash.error').textContent()).toContain('proposed catalog');
    await admin.fill('#from', '2026-13');
    await admin.click('form[action="/console/advisor"] button[type=submit]');
    await expect.poll(() => admin.locator('.flash.error').textContent()).toContain('From month');
  });
});
