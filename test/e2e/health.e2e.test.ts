/** The console's pipeline health against the real pipeline (ADR 0018): a bad event the real ingestor
 * sends to the DLQ, an email the real notifier cannot deliver (the SMTP server refuses the address),
 * and real lag: the notifier's group, stopped after committing, behind on alerts published since. */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ALL_PERMISSIONS, TeamAccess } from '@meterline/access';
import { type RunningApi, readApiConfig, startApi } from '@meterline/api';
import { type RunningIngestor, readIngestorConfig, startIngestor } from '@meterline/ingestor';
import { ContractCodec, createKafka, createRegistry, subjectFor } from '@meterline/kafka';
import { type RunningNotifier, readNotifierConfig, startNotifier } from '@meterline/notifier';
import { AccessStore } from '@meterline/resources';
import { createLogger } from '@meterline/runtime';
import type { UsageAlert } from '@meterline/schemas';
import {
  eventually,
  type SmtpCatcher,
  seedResource,
  startSmtpCatcher,
  worldTest,
} from '@meterline/test/support';
import { describe, expect } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const log = createLogger('test', { level: process.env.LOG_LEVEL ?? 'warn' });
const PASSWORD = 'correct horse battery';

const it = worldTest('health');

describe('pipeline health of a real pipeline', () => {
  let smtp: SmtpCatcher;
  let api: RunningApi;
  let ingestor: RunningIngestor;
  let notifier: RunningNotifier | null = null;
  let env: Record<string, string>;

  it.beforeAll(async ({ world }) => {
    smtp = await startSmtpCatcher();
    env = {
      ...world.env,
      PLANS_FILE: `${root}plans.example.yaml`,
      PORT: '0',
      API_OPS_PORT: '0',
      INGESTOR_PORT: '0',
      NOTIFIER_PORT: '0',
      API_TOKEN: 'e2e-api-token',
      HEROKU_ADDON_ID: 'meterline',
      HEROKU_ADDON_PASSWORD: 'e2e-password',
      HEROKU_SSO_SALT: 'e2e-salt',
      HEROKU_OAUTH_CLIENT_SECRET: 'e2e-oauth-secret',
      TOKEN_ENCRYPTION_KEY: 'e2e-token-encryption-key',
      HEROKU_API_URL: 'http://127.0.0.1:9',
      HEROKU_ID_URL: 'http://127.0.0.1:9',
      PROVISIONING_MODE: 'sync',
      SMTP_URL: smtp.url,
      EMAIL_FROM: 'Meterline <alerts@meterline.test>',
      NOTIFY_COALESCE_SECONDS: '0',
      DASHBOARD_URL: 'http://127.0.0.1:9/dashboard',
    };
    api = await startApi(readApiConfig(env), log);
    ingestor = await startIngestor(readIngestorConfig(env), log);
    notifier = await startNotifier(readNotifierConfig(env), log);
    await Promise.all([ingestor.joined, notifier.joined]);
    const team = new TeamAccess(world.pool);
    const script = { accountId: null, email: 'test setup', ip: null };
    await team.createAccount({ email: 'ops@provider.test', name: 'Olga Ops', password: PASSWORD }, script);
    await team.addCompanyUser({ email: 'ops@provider.test', permissions: ALL_PERMISSIONS }, script);
  });
  it.afterAll(async () => {
    await notifier?.stop();
    await ingestor?.stop();
    await api?.stop();
    await smtp?.close();
  });

  async function consoleCookie(): Promise<string> {
    const res = await fetch(`${api.url}/console/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: 'ops@provider.test', password: PASSWORD }).toString(),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  it('shows the DLQ record, the failed delivery and the stopped group lag, on the page and in metrics', async ({
    world,
  }) => {
    const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: `health-${world.id}` }, log);
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();

    // A bad event: the real ingestor sends it to the DLQ as undecodable.
    await producer.send({
      topic: world.topics.usageEvents,
      messages: [{ key: randomUUID(), value: '{"not json' }],
    });

    // An alert whose one recipient the SMTP server refuses: the real notifier fails its delivery.
    const resourceId = await seedResource(world.pool, { plan: 'basic', ownerEmail: 'gone@acme.test' });
    await new AccessStore(world.pool).replace(
      resourceId,
      [{ email: 'gone@acme.test', userId: null, name: null, role: 'owner' }],
      Date.now(),
    );
    smtp.reject.set('gone@acme.test', '5.1.1 mailbox unavailable');
    const codec = new ContractCodec<UsageAlert>(
      createRegistry(world.urls.registryUrl),
      subjectFor(world.topics.alerts),
      'UsageAlert',
    );
    const now = Date.now();
    const d = new Date(now);
    const alert = (id: string): UsageAlert => ({
      id,
      resourceId,
      plan: 'basic',
      metric: 'api_calls',
      kind: 'THRESHOLD',
      threshold: 90,
      severity: 'WARNING',
      used: 90_000,
      limit: 100_000,
      percent: 90,
      projected: null,
      periodStart: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
      periodEnd: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
      occurredAt: now,
    });
    await producer.send({
      topic: world.topics.alerts,
      messages: [{ key: resourceId, value: await codec.encode(alert(randomUUID())), partition: 0 }],
    });
    const backlog = async () => (await api.deps.health.read()).deliveries;
    await eventually(
      async () => {
        const b = await backlog();
        return b.ok && b.value.failed === 1 && b.value.pending === 0;
      },
      { timeoutMs: 60_000, what: 'the refused delivery recorded as failed' },
    );

    // The notifier stops (its offsets committed); three alerts on partition 0 and two on 1 wait for it.
    await notifier!.stop();
    notifier = null;
    await producer.send({
      topic: world.topics.alerts,
      messages: [0, 0, 0, 1, 1].map((partition) => ({
        key: resourceId,
        value: Buffer.from('{}'),
        partition,
      })),
    });
    await producer.disconnect();

    const groupId = `${world.groupPrefix}notifier`;
    type Report = Awaited<ReturnType<typeof api.deps.health.read>>;
    let report: Report | null = null;
    await eventually(
      async () => {
        report = await api.deps.health.read();
        const lag = report.kafka?.groups.find((g) => g.group.groupId === groupId)?.lag;
        const dlq = report.kafka?.dlq;
        return (
          lag?.ok === true &&
          lag.value.lag === 5 &&
          dlq?.ok === true &&
          dlq.value.reasons.some((r) => r.reason === 'undecodable' && r.records === 1)
        );
      },
      { timeoutMs: 60_000, what: 'the notifier group 5 behind and one undecodable record in the DLQ' },
    );
    const lag = report!.kafka!.groups.find((g) => g.group.groupId === groupId)!.lag;
    if (!lag.ok) throw new Error(lag.error);
    expect(lag.value.members).toBe(0);
    expect(lag.value.partitions.map((p) => p.lag)).toEqual([3, 2, 0]);
    const ingestorLag = report!.kafka!.groups.find((g) => g.group.service === 'ingestor')!.lag;
    expect(ingestorLag.ok && ingestorLag.value.lag).toBe(0);
    expect(report!.redis.ok && report!.redis.value.usedBytes).toBeGreaterThan(0);

    // The ops port's metrics say the same.
    const metrics = await (await fetch(`${api.opsUrl}/metrics`)).text();
    const series = (name: string, labels: string) =>
      Number(new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(
      series('meterline_consumer_lag', `group="${groupId}",service="notifier",topic="[^"]+",partition="0"`),
    ).toBe(3);
    expect(
      series('meterline_consumer_lag', `group="${groupId}",service="notifier",topic="[^"]+",partition="1"`),
    ).toBe(2);
    expect(series('meterline_dlq_window_records', 'reason="undecodable"')).toBe(1);
    expect(series('meterline_deliveries', 'state="failed"')).toBe(1);
    expect(series('meterline_deliveries', 'state="pending"')).toBe(0);
    expect(series('meterline_redis_memory_bytes', 'kind="used"')).toBeGreaterThan(0);
    expect(series('meterline_health_source_up', 'source="kafka"')).toBe(1);

    // And the console's page.
    const page = await fetch(`${api.url}/console/health`, { headers: { cookie: await consoleCookie() } });
    expect(page.status).toBe(200);
    expect(page.headers.get('refresh')).toBe('30');
    const html = await page.text();
    expect(html).toContain(`data-group="${groupId}" data-lag="5"`);
    expect(html).toMatch(new RegExp(`data-group="${groupId}" data-partition="0" data-lag="3"`));
    expect(html).toContain('<tr data-reason="undecodable">');
    expect(html).toMatch(/id="deliveries" data-pending="0" data-failed="1"/);
    expect(html).toContain('5.1.1 mailbox unavailable');
  });
});
