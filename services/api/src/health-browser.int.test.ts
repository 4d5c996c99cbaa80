import { TeamAccess } from '@meterline/access';
import { createKafka } from '@meterline/kafka';
import { seedResources } from '@meterline/resources/fixtures';
import { worldTest } from '@meterline/test/support';
import type { Browser, Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import { launchChromium, log, startTestApi, watchedContext } from './testkit.ts';
import type { RunningApi } from './wire.ts';

const PASSWORD = 'correct horse battery';

const it = worldTest('apihealthbrowser');

describe('the pipeline health page in headless Chromium', () => {
  let api: RunningApi;
  let noKafka: RunningApi;
  let browser: Browser;
  const script = { accountId: null, email: 'test setup', ip: null };

  it.beforeAll(async ({ world }) => {
    api = await startTestApi(world, { PROVISIONING_MODE: 'sync' }, Date.now);
    noKafka = await startTestApi(world, { PROVISIONING_MODE: 'sync', KAFKA_BROKERS: '' }, Date.now);
    await seedResources(world.pool, [{ ownerId: 'team-acme', ownerEmail: 'boss@acme.test' }]);
    const team = new TeamAccess(world.pool);
    await team.createAccount({ email: 'ops@provider.test', name: 'Olga', password: PASSWORD }, script);
    await team.addCompanyUser({ email: 'ops@provider.test', permissions: [] }, script);
    await team.createAccount({ email: 'pete@northwind.test', name: 'Pete', password: PASSWORD }, script);
    await team.addPartnerEmployee({ email: 'pete@northwind.test', partner: 'Northwind' }, script);

    // The ingestor's group, 3 records behind on partition 0 (committed at 1 of 4), and one DLQ record.
    const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: `hb-${world.id}` }, log);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: world.topics.usageEvents,
      messages: [1, 2, 3, 4].map((i) => ({ key: `k${i}`, value: '{}', partition: 0 })),
    });
    await producer.send({
      topic: world.topics.dlq,
      messages: [
        {
          key: 'k9',
          value: 'not an event',
          headers: {
            'dlq-reason': 'undecodable',
            'dlq-error': 'not valid JSON',
            'dlq-topic': world.topics.usageEvents,
            'dlq-partition': '0',
            'dlq-offset': '7',
          },
        },
      ],
    });
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({
      groupId: `${world.groupPrefix}ingestor`,
      topic: world.topics.usageEvents,
      partitions: [{ partition: 0, offset: '1' }],
    });
    await admin.disconnect();
    browser = await launchChromium();
  });
  it.afterAll(async () => {
    await browser?.close();
    await noKafka?.stop();
    await api?.stop();
  });

  async function signIn(page: Page, base: RunningApi, email: string) {
    await page.goto(`${base.url}/console/login`);
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL('**/console/clients');
  }

  it('draws lag per partition, the DLQ by reason, deliveries and Redis for a company user', async ({
    world,
  }) => {
    const { context, violations } = await watchedContext(browser);
    const page = await context.newPage();
    await signIn(page, api, 'ops@provider.test');
    await page.click('nav.console a[href="/console/health"]');
    await page.waitForURL('**/console/health');
    expect(await page.locator('h1').textContent()).toBe('Pipeline health');

    const ingestor = page.locator(`section.group[data-group="${world.groupPrefix}ingestor"]`);
    expect(await ingestor.getAttribute('data-lag')).toBe('3');
    const bars = ingestor.locator('svg.lag-chart rect.lag-bar');
    expect(await bars.count()).toBe(3);
    expect(await bars.nth(0).getAttribute('data-lag')).toBe('3');
    // The bar is drawn: a visible width in the page, not only a number.
    const box = await bars.nth(0).boundingBox();
    expect(box?.width).toBeGreaterThan(100);
    expect(await bars.nth(1).getAttribute('data-lag')).toBe('0');
    expect(await ingestor.locator('tr[data-partition="0"] td.lag').textContent()).toBe('3');
    // Every group of the pipeline is listed, running or not.
    expect(await page.locator('section.group').count()).toBe(3);

    // The DLQ record under its reason (the tally may still be reading on the very first view).
    await expect
      .poll(
        async () => {
          await page.reload();
          return page.locator('#dlq tr[data-reason="undecodable"] td.records').textContent();
        },
        { timeout: 20_000 },
      )
      .toBe('1');
    expect(await page.locator('#dlq svg.dlq-chart rect.dlq-bucket').count()).toBe(1);
    expect(await page.locator('#deliveries').getAttribute('data-failed')).toBe('0');
    expect(Number(await page.locator('#redis').getAttribute('data-used'))).toBeGreaterThan(0);
    await context.close();
    expect(violations).toEqual([]);
  });

  it('refuses a partner employee, who has no link to it', async () => {
    const { context, violations } = await watchedContext(browser);
    const page = await context.newPage();
    await signIn(page, api, 'pete@northwind.test');
    expect(await page.locator('nav.console a[href="/console/health"]').count()).toBe(0);
    const res = await page.goto(`${api.url}/console/health`);
    expect(res?.status()).toBe(403);
    expect(await page.locator('.flash.error').textContent()).toContain('company users');
    await context.close();
    expect(violations).toEqual([]);
  });

  it('says Kafka is not configured, and still shows deliveries and Redis', async () => {
    const { context, violations } = await watchedContext(browser);
    const page = await context.newPage();
    await signIn(page, noKafka, 'ops@provider.test');
    await page.goto(`${noKafka.url}/console/health`);
    expect(await page.locator('#kafka-missing').textContent()).toContain('KAFKA_BROKERS');
    expect(await page.locator('section.group').count()).toBe(0);
    expect(await page.locator('#deliveries').count()).toBe(1);
    expect(await page.locator('#redis').count()).toBe(1);
    await context.close();
    expect(violations).toEqual([]);
  });
});
