import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type RunningApi, readApiConfig, startApi } from '@meterline/api';
import { type RunningEvaluator, readEvaluatorConfig, startEvaluator } from '@meterline/evaluator';
import { basicAuthHeader } from '@meterline/heroku';
import { type FakePlatform, startFakePlatform } from '@meterline/heroku/fake';
import { type RunningIngestor, readIngestorConfig, startIngestor } from '@meterline/ingestor';
import { type RunningNotifier, readNotifierConfig, startNotifier } from '@meterline/notifier';
import { AccessStore } from '@meterline/resources';
import { createLogger } from '@meterline/runtime';
import { eventually, type SmtpCatcher, startSmtpCatcher, worldTest } from '@meterline/test/support';
import { UsageClient } from '@meterline/usage-client';
import { describe, expect } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const log = createLogger('e2e', { level: 'warn' });
const month = new Date().toLocaleString('en-US', { month: 'long', timeZone: 'UTC' });
const now = new Date();
const nextMonthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
const resetsOn = nextMonthStart.toLocaleDateString('en-US', {
  month: 'long',
  day: 'numeric',
  year: 'numeric',
  timeZone: 'UTC',
});

const it = worldTest('pipeline');

describe('the whole pipeline: provision, usage, tiered emails, a refused downgrade', () => {
  let smtp: SmtpCatcher;
  let fake: FakePlatform;
  let api: RunningApi;
  let ingestor: RunningIngestor;
  let evaluator: RunningEvaluator;
  let notifier: RunningNotifier;
  const addon = { id: 'meterline', password: 'e2e-password' };

  it.beforeAll(async ({ world }) => {
    smtp = await startSmtpCatcher();
    fake = await startFakePlatform({ clientSecret: 'e2e-oauth-secret' });
    const env = {
      ...world.env,
      PLANS_FILE: `${root}plans.example.yaml`,
      PORT: '0',
      API_OPS_PORT: '0',
      INGESTOR_PORT: '0',
      EVALUATOR_PORT: '0',
      NOTIFIER_PORT: '0',
      API_TOKEN: 'e2e-api-token',
      HEROKU_ADDON_ID: addon.id,
      HEROKU_ADDON_PASSWORD: addon.password,
      HEROKU_SSO_SALT: 'e2e-salt',
      HEROKU_OAUTH_CLIENT_SECRET: 'e2e-oauth-secret',
      TOKEN_ENCRYPTION_KEY: 'e2e-token-encryption-key',
      HEROKU_API_URL: fake.url,
      HEROKU_ID_URL: fake.idUrl,
      PROVISIONING_MODE: 'sync',
      SMTP_URL: smtp.url,
      EMAIL_FROM: 'Meterline <alerts@meterline.test>',
      NOTIFY_COALESCE_SECONDS: '0',
    };
    api = await startApi(readApiConfig(env), log);
    ingestor = await startIngestor(readIngestorConfig(env), log);
    evaluator = await startEvaluator(readEvaluatorConfig(env), log);
    notifier = await startNotifier(readNotifierConfig({ ...env, DASHBOARD_URL: api.url }), log);
    await Promise.all([ingestor.joined, evaluator.joined, notifier.joined]);
  });
  it.afterAll(async () => {
    await notifier?.stop();
    await evaluator?.stop();
    await ingestor?.stop();
    await api?.stop();
    await fake?.close();
    await smtp?.close();
  });

  it('emails the owner at 50, 75, 90 and 100% and refuses the downgrade with its reason', async ({
    world,
  }) => {
    const resourceId = randomUUID();
    const appId = randomUUID();
    fake.state.addApp({
      id: appId,
      name: 'acme-api',
      owner: { id: randomUUID(), email: 'owner@acme.test' },
      collaborators: [{ id: randomUUID(), email: 'dev@acme.test', role: 'collaborator' }],
    });
    fake.state.registerGrant('grant-1', { addonId: resourceId, appId, plan: 'basic' });
    const provision = await fetch(`${api.url}/heroku/resources`, {
      method: 'POST',
      headers: {
        authorization: basicAuthHeader(addon.id, addon.password),
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        uuid: resourceId,
        name: 'acme-meter',
        plan: 'basic',
        region: 'amazon-web-services::us-east-1',
        oauth_grant: {
          code: 'grant-1',
          expires_at: new Date(Date.now() + 300_000).toISOString(),
          type: 'authorization_code',
        },
      }),
    });
    expect(provision.status).toBe(200);
    await eventually(async () => (await new AccessStore(world.pool).get(resourceId)).entries.length === 2, {
      what: 'the access list synced from the Platform API',
    });

    const usage = await UsageClient.connect({
      brokers: world.urls.kafkaBrokers,
      registryUrl: world.urls.registryUrl,
      topic: world.topics.usageEvents,
    });
    const steps = [
      { quantity: 50_000, tier: 50 },
      { quantity: 25_000, tier: 75 },
      { quantity: 15_000, tier: 90 },
      { quantity: 10_000, tier: 100 },
    ];
    for (const step of steps) {
      await usage.emit({ resourceId, metric: 'api_calls', quantity: step.quantity });
      await eventually(async () => smtp.mailsTo('owner@acme.test').length === steps.indexOf(step) + 1, {
        what: `the ${step.tier}% email`,
      });
    }
    await usage.close();

    const owner = smtp.mailsTo('owner@acme.test');
    expect(owner.map((m) => m.parsed.subject)).toEqual(
      steps.map((s) => `You have used ${s.tier}% of your Basic plan's API calls for ${month}`),
    );
    const last = owner.at(-1)!.parsed.text ?? '';
    expect(last).toContain('100,000 of 100,000 API calls');
    expect(last).toContain('New API calls are refused with HTTP 429');
    expect(last).toContain('heroku addons:upgrade acme-meter:pro --app acme-api');
    expect(last).toContain(`${api.url}/dashboard/${resourceId}`);
    // The collaborator hears about the CRITICAL tier only (default recipient policy).
    await eventually(async () => smtp.mailsTo('dev@acme.test').length === 1);
    expect(smtp.mailsTo('dev@acme.test')[0]!.parsed.subject).toContain('100%');

    const downgrade = await fetch(`${api.url}/heroku/resources/${resourceId}`, {
      method: 'PUT',
      headers: {
        authorization: basicAuthHeader(addon.id, addon.password),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ plan: 'hobby' }),
    });
    expect(downgrade.status).toBe(422);
    const { message } = (await downgrade.json()) as { message: string };
    expect(message).toContain('100,000 API calls');
    expect(message).toContain('10,000');
    expect(message).toContain(resetsOn);

    const report = (await (
      await fetch(`${api.url}/api/v1/resources/${resourceId}/usage`, {
        headers: { authorization: 'Bearer e2e-api-token' },
      })
    ).json()) as {
      plan: string;
      metrics: { metric: string; used: number; limit: number; tiersCrossed: number[] }[];
    };
    expect(report.plan).toBe('basic');
    expect(report.metrics.find((m) => m.metric === 'api_calls')).toMatchObject({
      used: 100_000,
      limit: 100_000,
      tiersCrossed: [50, 75, 90, 100],
    });
  });
});
