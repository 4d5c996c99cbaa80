import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listAlerts, readFlag, storedFlag } from '@meterline/alerts';
import { createKafka } from '@meterline/kafka';
import { CounterStore, counterFields, flagsCopyKey, keys } from '@meterline/metering';
import { redisRunId } from '@meterline/redis';
import { periodOf } from '@meterline/rules';
import { createLogger } from '@meterline/runtime';
import type { PlanFlag, UsageAlert } from '@meterline/schemas';
import {
  eventually,
  type ServiceProcess,
  seedResource,
  startServiceProcess,
  type TestWorld,
  type TopicTail,
  tailTopic,
  worldTest,
} from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { readEvaluatorConfig } from './config.ts';
import { type RunningEvaluator, startEvaluator } from './wire.ts';

const log = createLogger('test', { level: 'warn' });
const DAY = 86_400_000;

// A small catalog whose numbers are easy to check by eye.
const plansFile = join(tmpdir(), `evaluator-plans-${process.pid}.yaml`);
writeFileSync(
  plansFile,
  `plans:
  - name: small
    rank: 1
    limits: { api_calls: 1000 }
    thresholds: [50, 75, 90, 100]
    pace: [{ usedPercent: 50, withinDays: 7 }]
    overLimit: New API calls are refused.
  - name: large
    rank: 2
    limits: { api_calls: 10000, storage_gb: 100 }
    thresholds: [50, 75, 90, 100, 150]
    pace: [{ usedPercent: 50, withinDays: 7 }]
    overLimit: New API calls are slowed down.
`,
);

async function produceJson(world: TestWorld, topic: string, values: object[], key: (v: object) => string) {
  const producer = createKafka(
    { brokers: world.urls.kafkaBrokers, clientId: `p-${world.id}` },
    log,
  ).producer();
  await producer.connect();
  await producer.send({ topic, messages: values.map((v) => ({ key: key(v), value: JSON.stringify(v) })) });
  await producer.disconnect();
}

const event = (resourceId: string, quantity: number, id: string, timestamp = Date.now()) => ({
  id,
  resourceId,
  metric: 'api_calls',
  quantity,
  timestamp,
});

// Each describe has a world of its own.
const withIngestorTest = worldTest('evaluate');
const paceTest = worldTest('evalpace');

describe('evaluator with the ingestor on the real stack', () => {
  const it = withIngestorTest;
  let ingestor: ServiceProcess;
  let evaluator: RunningEvaluator;
  let alerts: TopicTail<UsageAlert>;

  it.beforeAll(async ({ world }) => {
    const env = {
      ...world.env,
      PLANS_FILE: plansFile,
      INGESTOR_PORT: '0',
      EVALUATOR_PORT: '0',
      LATE_GRACE_HOURS: '1000',
    };
    // The ingestor as its own process (a service does not import another): it reads the topic from the
    // beginning, so what is produced before its group has joined is counted all the same.
    ingestor = startServiceProcess('services/ingestor/src/main.ts', env);
    evaluator = await startEvaluator(readEvaluatorConfig(env), log);
    await Promise.all([ingestor.started(), evaluator.joined]);
    alerts = await tailTopic<UsageAlert>(world, world.topics.alerts);
  });
  it.afterAll(async () => {
    await alerts?.stop();
    await evaluator?.stop();
    await ingestor?.kill();
  });

  const alertsOf = (r: string) => alerts.values.filter((a) => a.resourceId === r);

  it('walks through 50/75/90/100% with exactly four THRESHOLD alerts, in order, with the right fields', async ({
    world,
  }) => {
    const r = await seedResource(world.pool, { plan: 'small' });
    const steps = [500, 250, 150, 100];
    for (const [i, q] of steps.entries()) {
      await produceJson(world, world.topics.usageEvents, [event(r, q, `walk-${i}`)], () => r);
      await eventually(async () => alertsOf(r).filter((a) => a.kind === 'THRESHOLD').length === i + 1, {
        what: `tier ${i + 1} alerted`,
      });
    }
    const got = alertsOf(r).filter((a) => a.kind === 'THRESHOLD');
    expect(got.map((a) => a.threshold)).toEqual([50, 75, 90, 100]);
    expect(got.map((a) => a.severity)).toEqual(['INFO', 'INFO', 'WARNING', 'CRITICAL']);
    expect(got.map((a) => a.used)).toEqual([500, 750, 900, 1000]);
    const period = periodOf(Date.now());
    for (const a of got) {
      expect(a).toMatchObject({
        resourceId: r,
        plan: 'small',
        metric: 'api_calls',
        limit: 1000,
        periodStart: period.start,
        periodEnd: period.end,
      });
      expect(a.percent).toBe((a.used / 1000) * 100);
      expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(new Set(got.map((a) => a.id)).size).toBe(4);
    // The same events replayed (same ids, new offsets): nothing counted, nothing alerted.
    await produceJson(
      world,
      world.topics.usageEvents,
      steps.map((q, i) => event(r, q, `walk-${i}`)),
      () => r,
    );
    await produceJson(world, world.topics.usageEvents, [event(r, 1, 'marker')], () => r);
    await eventually(
      async () =>
        (
          await new CounterStore(world.redis, { dedupeWindowSeconds: 9, periodRetentionDays: 9 }).periodUsage(
            r,
            period.key,
          )
        ).api_calls === 1001,
    );
    await new Promise((res) => setTimeout(res, 1000));
    expect(alertsOf(r).filter((a) => a.kind === 'THRESHOLD')).toHaveLength(4);
  });

  it('gives one alert per tier when one event crosses two tiers, lowest first', async ({ world }) => {
    const r = await seedResource(world.pool, { plan: 'small' });
    await produceJson(world, world.topics.usageEvents, [event(r, 800, 'big')], () => r);
    // THRESHOLD alerts only: in the first week of a month the plan's pace rule rightly fires too.
    const tiers = () => alertsOf(r).filter((a) => a.kind === 'THRESHOLD');
    await eventually(async () => tiers().length >= 2);
    await new Promise((res) => setTimeout(res, 500));
    expect(tiers().map((a) => a.threshold)).toEqual([50, 75]);
  });

  it('re-arms every tier in a new period, and never alerts a metric the plan does not limit', async ({
    world,
  }) => {
    const r = await seedResource(world.pool, { plan: 'small' });
    const lastMonth = periodOf(Date.now()).start - DAY;
    await produceJson(
      world,
      world.topics.usageEvents,
      [
        event(r, 600, 'old', lastMonth),
        event(r, 600, 'new'),
        { ...event(r, 1e6, 'unlimited'), metric: 'storage_gb' },
      ],
      () => r,
    );
    const tiers = () => alertsOf(r).filter((a) => a.kind === 'THRESHOLD');
    await eventually(async () => tiers().length >= 2);
    await new Promise((res) => setTimeout(res, 500));
    const got = tiers();
    expect(got).toHaveLength(2);
    expect(got.map((a) => a.threshold)).toEqual([50, 50]);
    expect(new Set(got.map((a) => a.periodStart))).toEqual(
      new Set([periodOf(lastMonth).start, periodOf(Date.now()).start]),
    );
    expect(got[0]!.id).not.toBe(got[1]!.id);
    expect(got.every((a) => a.metric === 'api_calls')).toBe(true);
  });

  it('replaying the whole counter topic through a fresh evaluator publishes nothing new', async ({
    world,
  }) => {
    const before = alerts.values.length;
    const fresh = await startEvaluator(
      readEvaluatorConfig({
        ...world.env,
        PLANS_FILE: plansFile,
        EVALUATOR_PORT: '0',
        CONSUMER_GROUP_PREFIX: `${world.groupPrefix}replay-`,
      }),
      log,
    );
    await fresh.joined;
    const admin = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'lag' }, log).admin();
    await admin.connect();
    const end = await admin.fetchTopicOffsets(world.topics.counters);
    await eventually(
      async () => {
        const [committed] = await admin.fetchOffsets({
          groupId: `${world.groupPrefix}replay-evaluator`,
          topics: [world.topics.counters],
        });
        // A partition that never had a message has nothing to commit.
        return end.every(
          (p) =>
            p.offset === '0' ||
            committed!.partitions.find((c) => c.partition === p.partition)?.offset === p.offset,
        );
      },
      { what: 'the replaying evaluator caught up' },
    );
    await admin.disconnect();
    await fresh.stop();
    expect(alerts.values.length).toBe(before);
  });
});

describe('evaluator: pace, crash recovery and downgrade flags', () => {
  const it = paceTest;

  const change = (resourceId: string, used: number, periodKey: string, metric = 'api_calls') => ({
    resourceId,
    plan: 'small',
    metric,
    periodKey,
    used,
    at: Date.now(),
    firstEventAt: Date.now(),
  });

  it('raises one PACE alert with a projection for 55% of the allowance in the first 5 days', async ({
    world,
  }) => {
    const period = periodOf(Date.now());
    let now = period.start + 5 * DAY;
    const evaluator = await startEvaluator(
      readEvaluatorConfig({ ...world.env, PLANS_FILE: plansFile, EVALUATOR_PORT: '0' }),
      log,
      { clock: () => now },
    );
    const alerts = await tailTopic<UsageAlert>(world, world.topics.alerts);
    try {
      await evaluator.joined;
      const r = await seedResource(world.pool, {
        plan: 'small',
        provisionedAt: new Date(period.start - 30 * DAY),
      });
      await produceJson(world, world.topics.counters, [change(r, 550, period.key)], () => r);
      await eventually(async () => alerts.values.filter((a) => a.resourceId === r).length >= 2);
      now += DAY;
      await produceJson(world, world.topics.counters, [change(r, 560, period.key)], () => r);
      await new Promise((res) => setTimeout(res, 1500));
      const got = alerts.values.filter((a) => a.resourceId === r);
      expect(got.map((a) => `${a.kind}:${a.threshold}`)).toEqual(['THRESHOLD:50', 'PACE:50']);
      const pace = got[1]!;
      const days = (period.end - period.start) / DAY;
      expect(pace.severity).toBe('WARNING');
      expect(pace.projected).toBeCloseTo((550 / 5) * days, 6);
      expect(pace.used).toBe(550);
    } finally {
      await alerts.stop();
      await evaluator.stop();
    }
  });

  it('publishes each alert exactly once when killed between deciding and publishing', async ({ world }) => {
    const period = periodOf(Date.now());
    const r = await seedResource(world.pool, { plan: 'small' });
    const env = {
      ...world.env,
      PLANS_FILE: plansFile,
      EVALUATOR_PORT: '0',
      CONSUMER_GROUP_PREFIX: `${world.groupPrefix}crash-`,
    };
    const alerts = await tailTopic<UsageAlert>(world, world.topics.alerts);
    try {
      const doomed = startServiceProcess('services/evaluator/src/main.ts', {
        ...env,
        EVALUATOR_FAULT: 'crash-before-publish',
      });
      await produceJson(world, world.topics.counters, [change(r, 950, period.key)], () => r);
      await doomed.exited;
      expect(doomed.child.signalCode).toBe('SIGKILL');
      // THRESHOLD alerts only: in the first week of a month the plan's pace rule rightly fires too.
      const rows = (await listAlerts(world.pool, r)).filter((a) => a.kind === 'THRESHOLD').reverse();
      expect(rows.map((x) => x.threshold)).toEqual([50, 75, 90]);
      expect(rows.every((x) => x.publishedAt === null)).toBe(true);
      expect(alerts.values.filter((a) => a.resourceId === r)).toHaveLength(0);

      const healthy = startServiceProcess('services/evaluator/src/main.ts', env);
      const tiers = () => alerts.values.filter((a) => a.resourceId === r && a.kind === 'THRESHOLD');
      try {
        await eventually(async () => tiers().length >= 3, { what: 'alerts after restart' });
        await new Promise((res) => setTimeout(res, 2000));
        const got = tiers();
        expect(got.map((a) => a.threshold)).toEqual([50, 75, 90]);
        expect(new Set(got.map((a) => a.id)).size).toBe(3);
      } finally {
        await healthy.started();
        expect(await healthy.kill('SIGTERM')).toBe(0);
      }
    } finally {
      await alerts.stop();
    }
  });

  it('sets and lifts downgrade flags as usage and periods change; the compacted topic holds the latest', async ({
    world,
  }) => {
    const period = periodOf(Date.now());
    let now = period.start + 20 * DAY;
    const evaluator = await startEvaluator(
      readEvaluatorConfig({
        ...world.env,
        PLANS_FILE: plansFile,
        EVALUATOR_PORT: '0',
        OUTBOX_INTERVAL_MS: '200',
        CONSUMER_GROUP_PREFIX: `${world.groupPrefix}flags-`,
      }),
      log,
      { clock: () => now },
    );
    const flags = await tailTopic<PlanFlag>(world, world.topics.flags);
    const _counters = new CounterStore(world.redis, { dedupeWindowSeconds: 60, periodRetentionDays: 62 });
    try {
      await evaluator.joined;
      const r = await seedResource(world.pool, {
        plan: 'large',
        provisionedAt: new Date(period.start - 60 * DAY),
      });
      // Within the small plan's 1000: nothing blocked yet, projected 500/20 days -> below 1000.
      await world.redis.hset(keys.counters(r), counterFields.total(period.key, 'api_calls'), '500');
      await produceJson(
        world,
        world.topics.counters,
        [{ ...change(r, 500, period.key), plan: 'large' }],
        () => r,
      );
      // Unblocked from the start is no change: nothing stored, nothing published. (Given time to act.)
      await new Promise((res) => setTimeout(res, 1500));
      expect(await readFlag(world.redis, r)).toBeNull();
      // Over the small plan's limit: the downgrade to small is blocked, with a reason.
      await world.redis.hset(keys.counters(r), counterFields.total(period.key, 'api_calls'), '1500');
      await produceJson(
        world,
        world.topics.counters,
        [{ ...change(r, 1500, period.key), plan: 'large' }],
        () => r,
      );
      const blocked = await eventually(async () => {
        const f = await readFlag(world.redis, r);
        return f?.downgradeBlocked ? f : false;
      });
      expect(blocked.blockedPlans).toEqual(['small']);
      expect(blocked.reason).toMatch(/1,500/);
      expect(blocked.reason).toMatch(/1,000/);
      expect(blocked.periodEnd).toBe(period.end);
      expect(await storedFlag(world.pool, r)).toMatchObject({
        downgradeBlocked: true,
        blockedPlans: ['small'],
      });
      // Redis loses its data: the evaluator writes the flags' copy again from Postgres by itself.
      // The flag first, then the marker (one DEL of both is refused on a Redis Cluster: two slots).
      await world.redis.del(keys.flag(r));
      await world.redis.del(flagsCopyKey);
      const restored = await eventually(async () => (await readFlag(world.redis, r)) ?? false);
      expect(restored).toEqual(blocked);
      // The copy is done once its marker is back (written after the flags): a marker set before that
      // would be overwritten by the copy in progress.
      await eventually(async () => (await world.redis.get(flagsCopyKey)) !== null, {
        what: 'the copy marker',
      });
      // Redis comes back older (a snapshot, a lagging replica: the flag is not in it, the copy marker is,
      // written into another server): the evaluator notices the other run_id and copies the flags again.
      await world.redis.set(flagsCopyKey, 'the-run-id-of-another-redis-server');
      await world.redis.del(keys.flag(r));
      expect(await eventually(async () => (await readFlag(world.redis, r)) ?? false)).toEqual(blocked);
      // and names this server in the marker again, once the copy is done (the marker goes last).
      await eventually(
        async () => (await world.redis.get(flagsCopyKey)) === (await redisRunId(world.redis)),
        { what: "the copy marker naming this server's run_id" },
      );
      // The period ends: the block lifts by itself.
      now = period.end + 1000;
      const lifted = await eventually(async () => {
        const f = await readFlag(world.redis, r);
        return f && !f.downgradeBlocked ? f : false;
      });
      expect(lifted.blockedPlans).toEqual([]);
      await eventually(
        async () => {
          const mine = flags.values.filter((f) => f.resourceId === r);
          return mine.length >= 2 && mine.at(-1)!.downgradeBlocked === false;
        },
        { what: 'the block and its lifting on the topic' },
      );
      const mine = flags.values.filter((f) => f.resourceId === r);
      expect(mine.map((f) => f.downgradeBlocked)).toEqual([true, false]);
      expect(flags.messages.filter((m) => m.key?.toString() === r)).toHaveLength(2);
      const configs = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'cfg' }, log).admin();
      await configs.connect();
      const described = await configs.describeConfigs({
        resources: [{ type: 2, name: world.topics.flags, configNames: ['cleanup.policy'] }],
        includeSynonyms: false,
      });
      await configs.disconnect();
      expect(described.resources[0]!.configEntries[0]!.configValue).toBe('compact');
    } finally {
      await flags.stop();
      await evaluator.stop();
    }
  });
});
