import { randomUUID } from 'node:crypto';
import { ALL_PERMISSIONS, TeamAccess } from '@meterline/access';
import { listAlerts } from '@meterline/alerts';
import { createKafka, type Producer } from '@meterline/kafka';
import { seedResources } from '@meterline/resources/fixtures';
import {
  eventually,
  type ServiceProcess,
  startServiceProcess,
  type TestWorld,
  worldTest,
} from '@meterline/test/support';
import type { Browser, Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import { launchChromium, log, PLANS_FILE, startTestApi, watchedContext } from './testkit.ts';
import type { RunningApi } from './wire.ts';

const PASSWORD = 'correct horse battery';

const it = worldTest('apilivebrowser');

describe('the live page in headless Chromium, fed by the real ingestor and evaluator', () => {
  let api: RunningApi;
  let browser: Browser;
  let producer: Producer;
  const services: ServiceProcess[] = [];
  let resourceId: string;

  it.beforeAll(async ({ world }) => {
    api = await startTestApi(world, { PROVISIONING_MODE: 'sync' }, Date.now);
    [resourceId] = (await seedResources(world.pool, [
      { plan: 'basic', appName: 'acme-api', ownerId: 'team-acme', ownerEmail: 'boss@acme.test' },
    ])) as [string];
    const team = new TeamAccess(world.pool);
    const script = { accountId: null, email: 'test setup', ip: null };
    await team.createAccount({ email: 'admin@provider.test', name: 'Ada', password: PASSWORD }, script);
    await team.addCompanyUser(
      { email: 'admin@provider.test', permissions: ALL_PERMISSIONS, superAdmin: true },
      script,
    );
    const env = { ...world.env, PLANS_FILE, INGESTOR_PORT: '0', EVALUATOR_PORT: '0' };
    services.push(startServiceProcess('services/ingestor/src/main.ts', env));
    services.push(startServiceProcess('services/evaluator/src/main.ts', env));
    await Promise.all(services.map((s) => s.started(60_000)));
    producer = createKafka(
      { brokers: world.urls.kafkaBrokers, clientId: 'live-browser-test' },
      log,
    ).producer();
    await producer.connect();
    browser = await launchChromium();
  }, 120_000);
  it.afterAll(async () => {
    await browser?.close();
    await producer?.disconnect();
    await Promise.all(services.map((s) => s.kill()));
    await api?.stop();
  });

  async function openLive(page: Page) {
    await page.goto(`${api.url}/console/login`);
    await page.fill('#email', 'admin@provider.test');
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL('**/console/clients');
    await page.click('nav.console a[href="/console/live"]');
    await page.waitForSelector('#live-state[data-state=live]', { timeout: 30_000 });
  }

  const usage = (world: TestWorld, value: string) =>
    producer.send({ topic: world.topics.usageEvents, messages: [{ key: resourceId, value }] });

  it('shows a tier crossing within 2 s of its publication, a DLQ record under its reason, and no duplicates on reload', async ({
    world,
  }) => {
    const { context, violations } = await watchedContext(browser);
    const page = await context.newPage();
    await openLive(page);

    // 60% of basic's 100000 api_calls: the 50% tier, through the ingestor and the evaluator.
    await usage(
      world,
      JSON.stringify({
        id: randomUUID(),
        resourceId,
        metric: 'api_calls',
        quantity: 60_000,
        timestamp: Date.now(),
      }),
    );
    const alert = await eventually(
      async () =>
        (await listAlerts(world.pool, resourceId)).find(
          (a) => a.kind === 'THRESHOLD' && a.threshold === 50 && a.publishedAt !== null,
        ) ?? false,
      { what: 'the 50% alert published', timeoutMs: 60_000, intervalMs: 20 },
    );
    // The outbox marks an alert published after the broker took it: from then on, 2 s at most.
    const row = page.locator(`tr[data-key="alert:${alert.id}"]`);
    await row.waitFor({ timeout: 2_000 });
    expect(await row.getAttribute('data-kind')).toBe('THRESHOLD');
    expect(await row.textContent()).toContain('team-acme');

    // Not JSON: the ingestor sends it to the DLQ as `undecodable`.
    await usage(world, '{ not json');
    const dlq = page.locator('tr[data-type=dlq][data-kind=undecodable]');
    await dlq.first().waitFor({ timeout: 30_000 });
    expect(await dlq.first().getAttribute('data-resource')).toBe(resourceId);

    // Filtered to the DLQ reason: only DLQ rows remain.
    await page.fill('#filter-kind', 'undecodable');
    await page.click('form.filters button[type=submit]');
    await page.waitForSelector('#live-state[data-state=live]');
    expect(await page.locator('tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('tbody tr:not([data-type=dlq])').count()).toBe(0);

    // A reload renders what was seen and resumes the stream: every row once.
    const reloaded = await page.goto(`${api.url}/console/live`);
    const policy = reloaded?.headers()['content-security-policy'] ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).not.toContain('unsafe-inline');
    await page.waitForSelector('#live-state[data-state=live]');
    const keys = await page
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')));
    expect(keys).toContain(`alert:${alert.id}`);
    expect(keys.filter((k) => k?.startsWith('dlq:')).length).toBe(1);
    expect(new Set(keys).size).toBe(keys.length);

    // The client's page: the metric against its limit, drawn; the alert; the downgrade refused and why.
    await page.click(`tr[data-key="alert:${alert.id}"] a[href="/console/clients/team-acme"]`);
    const section = page.locator(`section[data-usage="${resourceId}"]`);
    await section.waitFor();
    expect(await section.locator('tr[data-metric=api_calls] td.used').textContent()).toBe('60,000');
    const chart = section.locator('svg.usage-chart[data-metric=api_calls]');
    expect(await chart.locator('line.tier').count()).toBe(5);
    expect(await chart.locator('line.pace').count()).toBe(1);
    expect((await chart.locator('polyline.used').getAttribute('points'))?.split(' ').length).toBeGreaterThan(
      1,
    );
    expect(await section.locator(`tr[data-alert="${alert.id}"]`).count()).toBe(1);
    expect(await section.locator('p.downgrade').getAttribute('data-blocked')).toBe('true');
    expect(await section.locator('li[data-plan=hobby]').textContent()).toContain('Hobby');
    await context.close();
    expect(violations).toEqual([]);
  });
});
