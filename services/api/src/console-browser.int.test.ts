import { ALL_PERMISSIONS, TeamAccess } from '@meterline/access';
import { seedResources } from '@meterline/resources/fixtures';
import { worldTest } from '@meterline/test/support';
import type { Browser, Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import {
  CONSOLE_PASSWORD,
  launchChromium,
  signInToConsole,
  startTestApi,
  watchedContext,
} from './testkit.ts';
import type { RunningApi } from './wire.ts';

const PASSWORD = CONSOLE_PASSWORD;

const it = worldTest('apiconsolebrowser');

describe('the console in headless Chromium', () => {
  let api: RunningApi;
  let browser: Browser;
  const script = { accountId: null, email: 'test setup', ip: null };

  it.beforeAll(async ({ world }) => {
    api = await startTestApi(world, { PROVISIONING_MODE: 'sync' }, Date.now);
    await seedResources(world.pool, [
      { name: 'acme-meter', appName: 'acme-api', ownerId: 'team-acme', ownerEmail: 'boss@acme.test' },
      { name: 'beta-meter', appName: 'beta-api', ownerId: 'team-beta', ownerEmail: 'boss@beta.test' },
    ]);
    const team = new TeamAccess(world.pool);
    await team.createAccount({ email: 'admin@provider.test', name: 'Ada Admin', password: PASSWORD }, script);
    await team.addCompanyUser(
      { email: 'admin@provider.test', permissions: ALL_PERMISSIONS, superAdmin: true },
      script,
    );
    browser = await launchChromium();
  });
  it.afterAll(async () => {
    await browser?.close();
    await api?.stop();
  });

  const signIn = (page: Page, email: string) => signInToConsole(page, api.url, email);

  it('adds people, assigns a partner employee to one client, and takes the access away', async ({
    world,
  }) => {
    const { context: adminContext, violations } = await watchedContext(browser);
    const admin = await adminContext.newPage();
    await signIn(admin, 'admin@provider.test');
    expect(await admin.locator('tr[data-client]').count()).toBe(2);

    // Adding an email with no account is refused with the page's message.
    await admin.goto(`${api.url}/console/people`);
    await admin.fill('#company-email', 'carol@provider.test');
    await admin.click('form[action="/console/people/company"] button[type=submit]');
    await expect.poll(() => admin.locator('.flash.error').textContent()).toContain("doesn't have an account");

    // Carol and Pete sign up themselves.
    const { context: self, violations: signupViolations } = await watchedContext(browser);
    const signup = await self.newPage();
    for (const [email, name] of [
      ['carol@provider.test', 'Carol'],
      ['pete@northwind.test', 'Pete'],
    ]) {
      await signup.goto(`${api.url}/console/signup`);
      await signup.fill('#email', email!);
      await signup.fill('#name', name!);
      await signup.fill('#password', PASSWORD);
      await signup.click('button[type=submit]');
      await expect.poll(() => signup.locator('.flash.ok').textContent()).toContain('Account created');
    }
    await self.close();
    expect(signupViolations).toEqual([]);

    await admin.goto(`${api.url}/console/people`);
    await admin.fill('#company-email', 'carol@provider.test');
    await admin.click('form[action="/console/people/company"] button[type=submit]');
    await expect.poll(() => admin.locator('.flash.ok').textContent()).toContain('is a company user now');

    await admin.fill('#partner-email', 'pete@northwind.test');
    await admin.fill('#partner-name', 'Northwind');
    await admin.click('form[action="/console/people/partner"] button[type=submit]');
    await expect.poll(() => admin.locator('.flash.ok').textContent()).toContain('partner employee');

    await admin.fill('#bulk-email', 'pete@northwind.test');
    await admin.fill('#bulk-partner', 'Northwind');
    await admin.fill('#bulk-clients', 'boss@acme.test');
    await admin.click('form[action="/console/people/assign"] button[type=submit]');
    await expect.poll(() => admin.locator('.flash.ok').textContent()).toContain('once the client approves');
    await admin.goto(`${api.url}/console/clients/team-acme`);
    expect(
      await admin.locator('#partner-employees tr[data-email="pete@northwind.test"]').textContent(),
    ).toContain('pending client approval');

    // The client's half (its owner allows it on the dashboard; the HTTP test covers that path).
    await new TeamAccess(world.pool).grant('team-acme', 'pete@northwind.test', 'boss@acme.test');

    const { context: peteContext, violations: peteViolations } = await watchedContext(browser);
    const pete = await peteContext.newPage();
    await signIn(pete, 'pete@northwind.test');
    const rows = pete.locator('tr[data-client]');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-client')).toBe('team-acme');
    await pete.click('tr[data-client="team-acme"] a');
    expect(await pete.locator('tr[data-resource]').count()).toBe(1);
    expect(await pete.locator('#partner-employees').count()).toBe(0);

    // Removing him from the client needs its name typed.
    await admin.reload();
    const form = admin.locator('#partner-employees tr[data-email="pete@northwind.test"] form');
    await form.locator('input[name=confirmation]').fill('boss@acme.test');
    await form.locator('button[type=submit]').click();
    await expect.poll(() => admin.locator('.flash.ok').textContent()).toContain('no longer has access');

    await pete.goto(`${api.url}/console/clients`);
    expect(await pete.locator('tr[data-client]').count()).toBe(0);
    const gone = await pete.goto(`${api.url}/console/clients/team-acme`);
    expect(gone?.status()).toBe(404);
    await peteContext.close();
    await adminContext.close();
    // Every page above worked under the Content-Security-Policy, and none had to be refused anything.
    expect(violations).toEqual([]);
    expect(peteViolations).toEqual([]);
  });
});
