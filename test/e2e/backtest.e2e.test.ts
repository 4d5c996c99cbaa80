import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backtest, compareWithRecorded } from '@meterline/advisor';
import { recordedAlerts } from '@meterline/alerts';
import { readCatalogFile } from '@meterline/catalog';
import { createPool, type Pool } from '@meterline/db';
import { type RunningEvaluator, readEvaluatorConfig, startEvaluator } from '@meterline/evaluator';
import { type RunningIngestor, readIngestorConfig, startIngestor } from '@meterline/ingestor';
import { createKafka } from '@meterline/kafka';
import { ledgerEventCount } from '@meterline/metering';
import { type RunningNotifier, readNotifierConfig, startNotifier } from '@meterline/notifier';
import { seedResources } from '@meterline/resources/fixtures';
import { parsePlanCatalog, periodOf } from '@meterline/rules';
import { createLogger } from '@meterline/runtime';
import {
  eventually,
  type SmtpCatcher,
  schemaFingerprint,
  startSmtpCatcher,
  worldTest,
} from '@meterline/test/support';
import { UsageClient } from '@meterline/usage-client';
import { describe, expect } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const log = createLogger('e2e', { level: 'warn' });
// The example catalog with every pace rule open all month and pace judged from the first hour (the
// guard below), so the period has PACE alerts whatever day of the month the test runs on.
const plansText = readFileSync(`${root}plans.example.yaml`, 'utf8').replace(
  /withinDays: \d+/g,
  'withinDays: 31',
);
const plansFile = join(mkdtempSync(join(tmpdir(), 'meterline-backtest-')), 'plans.yaml');
writeFileSync(plansFile, plansText);
const guards = { minElapsedHours: 0, minLimit: 10 };

/**
 * The plan advisor against a period the pipeline itself produced: usage events through the ingestor and
 * the evaluator (alerts recorded and published, emails sent), then the back-test over the same period.
 */
const it = worldTest('backtest');

describe('the back-test replays what the pipeline did, and changes nothing', () => {
  let smtp: SmtpCatcher;
  let ingestor: RunningIngestor;
  let evaluator: RunningEvaluator;
  let notifier: RunningNotifier;
  let reports: Pool;
  const monthStart = new Date(periodOf(Date.now()).start);
  let ids: string[];

  it.beforeAll(async ({ world }) => {
    smtp = await startSmtpCatcher();
    // Customers since the 1st, so the pace rules judge the month so far as they do in production.
    ids = await seedResources(world.pool, [
      { plan: 'hobby', ownerEmail: 'a@example.test', provisionedAt: monthStart },
      { plan: 'basic', ownerEmail: 'b@example.test', provisionedAt: monthStart },
      { plan: 'basic', ownerEmail: 'c@example.test', provisionedAt: monthStart },
      { plan: 'pro', ownerEmail: 'd@example.test', provisionedAt: monthStart },
    ]);
    const env = {
      ...world.env,
      PLANS_FILE: plansFile,
      INGESTOR_PORT: '0',
      EVALUATOR_PORT: '0',
      NOTIFIER_PORT: '0',
      SMTP_URL: smtp.url,
      EMAIL_FROM: 'Meterline <alerts@meterline.test>',
      NOTIFY_COALESCE_SECONDS: '0',
      DASHBOARD_URL: 'http://127.0.0.1:1/dashboard',
      PACE_MIN_ELAPSED_HOURS: String(guards.minElapsedHours),
      PACE_MIN_LIMIT: String(guards.minLimit),
    };
    ingestor = await startIngestor(readIngestorConfig(env), log);
    evaluator = await startEvaluator(readEvaluatorConfig(env), log);
    notifier = await startNotifier(readNotifierConfig(env), log);
    await Promise.all([ingestor.joined, evaluator.joined, notifier.joined]);
    reports = createPool(world.urls.databaseUrl, { schema: world.schema, readOnly: true, max: 2 });

    const usage = await UsageClient.connect({
      brokers: world.urls.kafkaBrokers,
      registryUrl: world.urls.registryUrl,
      topic: world.topics.usageEvents,
    });
    const [hobby, basic1, basic2, pro] = ids as [string, string, string, string];
    // Tiers one step at a time, several at once, a pace rule, storage, and a quiet resource.
    const steps: [string, string, number][] = [
      [hobby, 'api_calls', 5_200],
      [hobby, 'api_calls', 2_400],
      [hobby, 'api_calls', 3_000],
      [hobby, 'storage_gb', 0.6],
      [basic1, 'api_calls', 95_000],
      [basic1, 'webhooks', 4_000],
      [basic2, 'api_calls', 20_000],
      [pro, 'api_calls', 10_000],
    ];
    for (const [i, [resourceId, metric, quantity]] of steps.entries()) {
      await usage.emit({ resourceId, metric, quantity });
      // One at a time through the pipeline, as usage arrives over a month.
      await eventually(async () => (await ledgerEventCount(world.pool)) === i + 1, {
        what: `event ${i + 1} counted`,
      });
    }
    await usage.close();
    // hobby api_calls: THRESHOLD 50 75 90 100 + PACE 50; hobby storage: 50 (a limit of 1 is too small for
    // pace); basic1 api_calls: 50 75 90 + PACE 50 80 90; the rest stay under every rule.
    await eventually(
      async () => (await recordedAlerts(world.pool, [periodOf(Date.now()).key])).length === 12,
      {
        what: 'the alerts recorded',
        timeoutMs: 30_000,
      },
    );
    await eventually(async () => smtp.mails.length > 0, { what: 'emails sent' });
    // Settled: nothing more in flight.
    await new Promise((r) => setTimeout(r, 3000));
  });
  it.afterAll(async () => {
    await reports?.end();
    await notifier?.stop();
    await evaluator?.stop();
    await ingestor?.stop();
    await smtp?.close();
  });

  it('reproduces the alerts the evaluator recorded for the period, the same ids and no others', async ({
    world,
  }) => {
    const catalog = readCatalogFile(plansFile);
    const recorded = await recordedAlerts(world.pool, [periodOf(Date.now()).key]);
    expect(recorded.map((a) => a.kind)).toContain('PACE');
    const report = await backtest(reports, {
      current: catalog,
      proposed: catalog,
      from: Date.now(),
      to: Date.now(),
      guards,
    });
    const check = compareWithRecorded(report.currentAlerts, recorded);
    expect(check).toMatchObject({ missing: [], extra: [] });
    expect(check.reproduced).toBe(recorded.length);
    expect(report.current.totalAlerts).toBe(recorded.length);
    expect(report.resources).toBe(4);
  });

  it('never writes to Postgres, Redis or Kafka, and sends no email', async ({ world }) => {
    const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: `check-${world.id}` }, log);
    const admin = kafka.admin();
    await admin.connect();
    const offsets = async () =>
      Promise.all(
        Object.values(world.topics).map(async (t) => [t, await admin.fetchTopicOffsets(t)] as const),
      );
    const redisDigest = async () => {
      const raw = world.redis.duplicate({ keyPrefix: '' });
      const hash = createHash('sha256');
      try {
        const keys: string[] = [];
        for await (const batch of raw.scanStream({ match: `${world.keyPrefix}*`, count: 1000 }))
          keys.push(...(batch as string[]));
        for (const k of keys.sort()) hash.update(k).update((await raw.dumpBuffer(k)) ?? Buffer.alloc(0));
        return { keys: keys.length, digest: hash.digest('hex') };
      } finally {
        raw.disconnect();
      }
    };
    const before = {
      db: await schemaFingerprint(world.pool, world.schema),
      redis: await redisDigest(),
      kafka: await offsets(),
      mails: smtp.mails.length,
    };
    expect(before.redis.keys).toBeGreaterThan(0);

    const current = readCatalogFile(plansFile);
    // A proposal that alerts earlier and more often: if any decision leaked out, it would show.
    const proposed = parsePlanCatalog(
      plansText.replaceAll('thresholds: [50, 75, 90, 100', 'thresholds: [10, 20, 50, 75, 90, 100'),
      'proposed',
    );
    const report = await backtest(reports, { current, proposed, from: Date.now(), to: Date.now(), guards });
    expect(report.proposed.totalAlerts).toBeGreaterThan(report.current.totalAlerts);
    await new Promise((r) => setTimeout(r, 2000));

    expect(await schemaFingerprint(world.pool, world.schema)).toEqual(before.db);
    expect(await redisDigest()).toEqual(before.redis);
    expect(await offsets()).toEqual(before.kafka);
    expect(smtp.mails.length).toBe(before.mails);
    // And Postgres itself refuses a write through the back-test's pool.
    await expect(reports.query('CREATE TABLE backtest_probe (x int)')).rejects.toThrow(
      /read-only transaction/,
    );
    await admin.disconnect();
  });
});
