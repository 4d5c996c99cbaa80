import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { TeamAccess } from '@meterline/access';
import { DeliveryStore, listNotifications } from '@meterline/deliveries';
import { ContractCodec, createKafka, createRegistry, subjectFor } from '@meterline/kafka';
import { AccessStore, ResourceStore, recordEvent } from '@meterline/resources';
import { severityFor } from '@meterline/rules';
import { createLogger, type Logger } from '@meterline/runtime';
import type { UsageAlert } from '@meterline/schemas';
import {
  type CaughtMail,
  eventually,
  type SmtpCatcher,
  seedResource,
  startServiceProcess,
  startSmtpCatcher,
  type TestWorld,
  worldTest,
} from '@meterline/test/support';
import pino from 'pino';
import { describe, expect } from 'vitest';
import { readNotifierConfig } from './config.ts';
import { type RunningNotifier, startNotifier } from './wire.ts';

const log = createLogger('test', { level: 'warn' });
// The notifiers under test log their expected retries at warn: keep the output for real problems.
const quiet = createLogger('notifier', { level: 'error' });
const plansFile = fileURLToPath(new URL('../../../plans.example.yaml', import.meta.url));
const BASIC_OVER_LIMIT =
  'New API calls are refused with HTTP 429 and webhooks are queued, not delivered, until your allowance resets on the 1st of next month (UTC). Above 10 GB, storage becomes read-only.';
const flat = (s: string) => s.replace(/\s+/g, ' ');

function notifierEnv(
  world: TestWorld,
  smtp: SmtpCatcher,
  over: Record<string, string> = {},
): Record<string, string> {
  return {
    ...world.env,
    SMTP_URL: smtp.url,
    EMAIL_FROM: 'Meterline Alerts <alerts@meterline.test>',
    PLANS_FILE: plansFile,
    NOTIFIER_PORT: '0',
    NOTIFY_COALESCE_SECONDS: '0',
    NOTIFY_POLL_MS: '100',
    NOTIFY_RETRY_BASE_MS: '200',
    NOTIFY_RETRY_MAX_MS: '1000',
    ...over,
  };
}

/** A logger whose lines the test can read. */
function capturingLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log: logger, lines };
}

const monthStart = (now = Date.now()) => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
const monthEnd = (now = Date.now()) => {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};
const monthName = (ms: number) => new Date(ms).toLocaleString('en-US', { month: 'long', timeZone: 'UTC' });

/** A THRESHOLD alert of the basic plan's api_calls (limit 100,000) at `tier` percent. */
function tierAlert(resourceId: string, tier: number, over: Partial<UsageAlert> = {}): UsageAlert {
  return {
    id: randomUUID(),
    resourceId,
    plan: 'basic',
    metric: 'api_calls',
    kind: 'THRESHOLD',
    threshold: tier,
    severity: severityFor('THRESHOLD', tier),
    used: tier * 1000,
    limit: 100_000,
    percent: tier,
    projected: tier === 90 ? 140_000 : null,
    periodStart: monthStart(),
    periodEnd: monthEnd(),
    occurredAt: Date.now(),
    ...over,
  };
}

async function publishAlerts(world: TestWorld, alerts: UsageAlert[]): Promise<void> {
  const codec = new ContractCodec<UsageAlert>(
    createRegistry(world.urls.registryUrl),
    subjectFor(world.topics.alerts),
    'UsageAlert',
  );
  const producer = createKafka({ brokers: world.urls.kafkaBrokers, clientId: `p-${world.id}` }, log).producer(
    {
      idempotent: true,
    },
  );
  await producer.connect();
  // One at a time: the first encode registers the schema (concurrent first registrations race).
  const messages = [];
  for (const a of alerts) messages.push({ key: a.resourceId, value: await codec.encode(a) });
  await producer.send({ topic: world.topics.alerts, messages });
  await producer.disconnect();
}

interface Person {
  email: string;
  name?: string;
  role: 'owner' | 'admin' | 'member' | 'collaborator' | 'viewer';
}

async function seedAccess(
  world: TestWorld,
  resourceId: string,
  people: Person[],
  contacts: string[] = [],
): Promise<void> {
  const access = new AccessStore(world.pool);
  await access.replace(
    resourceId,
    people.map((p) => ({ email: p.email, userId: null, name: p.name ?? null, role: p.role })),
    Date.now(),
  );
  for (const c of contacts) await access.addContact(resourceId, c);
}

const alertIdsOf = (m: CaughtMail) =>
  m
    .header('x-meterline-alert-id')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const mailsOf = (smtp: SmtpCatcher, resourceId: string, to?: string) =>
  (to ? smtp.mailsTo(to) : smtp.mails).filter((m) => m.header('x-meterline-resource-id') === resourceId);

const deliveryStates = (world: TestWorld, resourceId: string) =>
  new DeliveryStore(world.pool).deliveriesOf(resourceId);

// Each describe has a world of its own.
const tieredTest = worldTest('notify');
const outageTest = worldTest('notifyout');
const killTest = worldTest('notifykill');

describe('notifier: tiered emails to the people of a resource', () => {
  const it = tieredTest;
  let smtp: SmtpCatcher;
  let notifier: RunningNotifier;
  const captured = capturingLogger();

  it.beforeAll(async ({ world }) => {
    smtp = await startSmtpCatcher();
    // Staff: one subscribed company user gets CRITICAL alerts; the others never do.
    const team = new TeamAccess(world.pool);
    const script = { accountId: null, email: 'test-setup', ip: null };
    const people = [
      ['sam@provider.example', 'Sam Staff'],
      ['una@provider.example', 'Una Unsubscribed'],
      ['pat@provider.example', 'Pat Partner'],
      ['rex@provider.example', 'Rex Removed'],
    ] as const;
    for (const [email, name] of people)
      await team.createAccount({ email, name, password: 'a long enough password' }, null);
    const subscribed = { permissions: ['support' as const], alertsSubscribed: true };
    await team.addCompanyUser({ email: 'sam@provider.example', ...subscribed }, script);
    await team.addCompanyUser({ email: 'una@provider.example', permissions: ['support'] }, script);
    await team.addPartnerEmployee({ email: 'pat@provider.example', partner: 'Agency' }, script);
    await team.addCompanyUser({ email: 'rex@provider.example', ...subscribed }, script);
    await team.removeCompanyUser('rex@provider.example', script);
    notifier = await startNotifier(readNotifierConfig(notifierEnv(world, smtp)), captured.log);
    await notifier.joined;
  });
  it.afterAll(async () => {
    await notifier?.stop();
    await smtp?.close();
  });

  let walkResource = '';
  const walkAlerts: UsageAlert[] = [];

  it('a 50/75/90/100 walk emails each person the tiers their role receives, with the numbers, the consequence and the upgrade', async ({
    world,
  }) => {
    const r = await seedResource(world.pool, { plan: 'basic' });
    walkResource = r;
    await seedAccess(
      world,
      r,
      [
        { email: 'ada@example.com', name: 'Ada Owner', role: 'owner' },
        { email: 'bob@example.com', name: 'Bob Admin', role: 'admin' },
        { email: 'cy@example.com', name: 'Cy Member', role: 'member' },
        { email: 'di@example.com', role: 'viewer' },
      ],
      ['ops@customer.example'],
    );
    // The documented set (DEFAULT policy): every tier to owner, admins and contacts; CRITICAL (100%)
    // also to everyone with access and to subscribed company staff.
    const expected: Record<string, number[]> = {
      'ada@example.com': [50, 75, 90, 100],
      'bob@example.com': [50, 75, 90, 100],
      'ops@customer.example': [50, 75, 90, 100],
      'cy@example.com': [100],
      'di@example.com': [100],
      'sam@provider.example': [100],
    };
    for (const tier of [50, 75, 90, 100]) {
      const alert = tierAlert(r, tier);
      walkAlerts.push(alert);
      await publishAlerts(world, [alert]);
      const want = Object.values(expected).filter((tiers) => tiers.includes(tier)).length;
      await eventually(
        async () => smtp.mails.filter((m) => alertIdsOf(m).includes(alert.id)).length >= want,
        {
          what: `${want} emails of the ${tier}% tier`,
        },
      );
    }

    const month = monthName(monthStart());
    const { appName: app, name: addon } = (await new ResourceStore(world.pool).get(r))!;
    for (const [address, tiers] of Object.entries(expected)) {
      const mails = mailsOf(smtp, r, address);
      expect(
        mails.map((m) => Number(/used (\d+)%/.exec(m.parsed.subject ?? '')?.[1])).sort((a, b) => a - b),
        address,
      ).toEqual(tiers);
      for (const m of mails) {
        const tier = Number(/used (\d+)%/.exec(m.parsed.subject ?? '')![1]);
        const alert = walkAlerts.find((a) => a.threshold === tier)!;
        expect(m.parsed.subject).toBe(`You have used ${tier}% of your Basic plan's API calls for ${month}`);
        expect(alertIdsOf(m)).toEqual([alert.id]);
        expect(m.to).toEqual([address]);
        expect(m.from).toBe('alerts@meterline.test');
        const text = flat(m.parsed.text ?? '');
        expect(text.startsWith(`You have used ${tier}% of your Basic plan's API calls for ${month}`)).toBe(
          true,
        );
        expect(text).toContain(`${(tier * 1000).toLocaleString('en-US')} of 100,000 API calls (${tier}%)`);
        expect(text).toContain(BASIC_OVER_LIMIT);
        expect(text).toContain(`heroku addons:upgrade ${addon}:pro --app ${app}`);
        expect(text).toContain('1,000,000 API calls');
        expect(text).toContain(`the period ends on 1 ${monthName(monthEnd())}`);
        if (tier === 90) expect(text).toContain('about 140,000 API calls by the end of');
        if (tier === 100) expect(text).toContain("Your usage has reached the plan's limit.");
        expect(m.parsed.html).toContain(`http://127.0.0.1:3000/dashboard/${r}`);
        expect(flat(String(m.parsed.html))).toContain('heroku addons:upgrade');
        expect(m.parsed.messageId).toMatch(/^<alert\.[0-9a-f]{32}@meterline\.test>$/);
      }
    }
    const ada = mailsOf(smtp, r, 'ada@example.com')[0]!;
    const to = ada.parsed.to && !Array.isArray(ada.parsed.to) ? ada.parsed.to.value : [];
    expect(to).toEqual([{ name: 'Ada Owner', address: 'ada@example.com' }]);
    expect(ada.parsed.from?.value).toEqual([{ name: 'Meterline Alerts', address: 'alerts@meterline.test' }]);
    // Nobody else was written to about this resource: not unsubscribed, partner or removed staff.
    const everyone = new Set(mailsOf(smtp, r).flatMap((m) => m.to));
    expect([...everyone].sort()).toEqual(Object.keys(expected).sort());
    expect(mailsOf(smtp, r)).toHaveLength(15);
    expect(new Set(mailsOf(smtp, r).map((m) => m.parsed.messageId)).size).toBe(15);

    const states = await deliveryStates(world, r);
    expect(states).toHaveLength(15);
    expect(states.every((s) => s.state === 'sent' && s.attempts === 1)).toBe(true);

    // What the api lists as "emails sent this period".
    const listed = await listNotifications(world.pool, r, monthStart(), { states: ['sent'] });
    expect(listed).toHaveLength(15);
    const adaListed = listed.filter((n) => n.recipient === 'ada@example.com');
    expect(adaListed.map((n) => n.alerts[0]!.threshold).sort((a, b) => a - b)).toEqual([50, 75, 90, 100]);
    expect(adaListed[0]!.subject).toMatch(/^You have used \d+% of your Basic plan's API calls/);
    expect(adaListed.every((n) => n.sentAt instanceof Date && n.emailId !== null)).toBe(true);
  });

  it('sends nothing new when Kafka redelivers the whole topic', async ({ world }) => {
    expect(walkResource).not.toBe('');
    const before = smtp.mails.length;
    await notifier.stop();
    const group = `${world.groupPrefix}notifier`;
    const admin = createKafka({ brokers: world.urls.kafkaBrokers, clientId: `a-${world.id}` }, log).admin();
    await admin.connect();
    await admin.resetOffsets({ groupId: group, topic: world.topics.alerts, earliest: true });
    notifier = await startNotifier(readNotifierConfig(notifierEnv(world, smtp)), captured.log);
    await notifier.joined;
    // The replay is done when the group has committed up to the end of every partition again.
    const ends = await admin.fetchTopicOffsets(world.topics.alerts);
    await eventually(
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId: group, topics: [world.topics.alerts] });
        return ends.every((e) => {
          const c = committed!.partitions.find((p) => p.partition === e.partition);
          // An empty partition stays at its reset marker.
          return e.offset === '0' || c?.offset === e.offset;
        });
      },
      { what: 'the replay committed' },
    );
    await admin.disconnect();
    const metrics = await (await fetch(`http://127.0.0.1:${notifier.opsPort}/metrics`)).text();
    expect(metrics).toMatch(/meterline_notifier_alerts_total\{outcome="redelivered"[^}]*\} 4/);
    await new Promise((r) => setTimeout(r, 1500));
    expect(smtp.mails.length).toBe(before);
    expect(await deliveryStates(world, walkResource)).toHaveLength(15);
  });

  it('a 5xx for one recipient fails that delivery with the reason and the others go out', async ({
    world,
  }) => {
    const r = await seedResource(world.pool, { plan: 'basic' });
    await seedAccess(
      world,
      r,
      [
        { email: 'olga@example.com', name: 'Olga Owner', role: 'owner' },
        { email: 'bounce@example.com', name: 'Bounce Admin', role: 'admin' },
        { email: 'mia@example.com', role: 'member' },
      ],
      ['desk@customer.example'],
    );
    smtp.reject.set('bounce@example.com', '5.1.1 <bounce@example.com>: mailbox unavailable');
    const alert = tierAlert(r, 100);
    await publishAlerts(world, [alert]);
    await eventually(
      async () => {
        const states = await deliveryStates(world, r);
        return states.length === 5 && states.every((s) => s.state !== 'pending');
      },
      { what: 'every delivery settled' },
    );
    const states = await deliveryStates(world, r);
    const bounce = states.find((s) => s.recipient === 'bounce@example.com')!;
    expect(bounce.state).toBe('failed');
    expect(bounce.attempts).toBe(1);
    expect(bounce.lastError).toMatch(/^550 .*5\.1\.1 <bounce@example\.com>: mailbox unavailable/);
    for (const s of states.filter((x) => x.recipient !== 'bounce@example.com'))
      expect(s.state, s.recipient).toBe('sent');
    for (const address of [
      'olga@example.com',
      'mia@example.com',
      'desk@customer.example',
      'sam@provider.example',
    ]) {
      expect(mailsOf(smtp, r, address), address).toHaveLength(1);
    }
    expect(mailsOf(smtp, r, 'bounce@example.com')).toHaveLength(0);
    const listed = await listNotifications(world.pool, r, monthStart());
    expect(listed.find((n) => n.recipient === 'bounce@example.com')).toMatchObject({
      state: 'failed',
      lastError: expect.stringContaining('mailbox unavailable'),
    });
  });

  it('refuses and logs a name or address carrying CR/LF, and sends to nobody it would have added', async ({
    world,
  }) => {
    const r = await seedResource(world.pool, { plan: 'basic' });
    await seedAccess(world, r, [
      { email: 'eve@example.com', name: 'Eve\r\nBcc: evil@attacker.example', role: 'owner' },
      { email: 'mallory@example.com\r\nBcc: evil2@attacker.example', name: 'Mallory', role: 'admin' },
      { email: 'carl@example.com', name: 'Carl Admin', role: 'admin' },
    ]);
    await publishAlerts(world, [tierAlert(r, 75)]);
    await eventually(async () => mailsOf(smtp, r, 'carl@example.com').length === 1, {
      what: 'the good admin emailed',
    });
    await eventually(async () => (await deliveryStates(world, r)).every((s) => s.state !== 'pending'), {
      what: 'every delivery settled',
    });
    const states = await deliveryStates(world, r);
    expect(states).toHaveLength(3);
    const refused = states.filter((s) => s.state === 'failed');
    expect(refused.map((s) => s.recipient.split('\r')[0]).sort()).toEqual([
      'eve@example.com',
      'mallory@example.com',
    ]);
    for (const s of refused) {
      expect(s.attempts).toBe(0);
      expect(s.lastError).toMatch(/^refused: the (name|address) contains a control character \(U\+000D\)/);
    }
    expect(
      smtp.mails.some((m) =>
        m.to.some((t) => t.includes('attacker') || t.startsWith('eve@') || t.startsWith('mallory@')),
      ),
    ).toBe(false);
    expect(smtp.mails.some((m) => /attacker\.example/.test(m.raw))).toBe(false);
    const logged = captured.lines.filter((l) => l.msg === 'recipient refused: not sent');
    expect(logged.map((l) => String(l.recipient).split('\r')[0]).sort()).toEqual([
      'eve@example.com',
      'mallory@example.com',
    ]);
    expect(logged.every((l) => String(l.reason).includes('control character'))).toBe(true);
  });

  it('tells the owner, the admins and the contacts of an asynchronously refused provision why, once', async ({
    world,
  }) => {
    const reason =
      'This app provisioned and removed this add-on 4 times in the last 7 days. You can provision it again in 3 days.';
    const refuse = (id: string, mode: 'async' | 'sync', at: Date) =>
      recordEvent(
        world.pool,
        id,
        'provision_refused',
        at.getTime(),
        { mode, code: 'churn', message: reason },
        {
          to: 'basic',
        },
      );
    const r = await seedResource(world.pool, { plan: 'basic', state: 'refused', appName: 'quick-churn' });
    await seedAccess(
      world,
      r,
      [
        { email: 'rita@example.com', name: 'Rita Owner', role: 'owner' },
        { email: 'raj@example.com', role: 'admin' },
        { email: 'rob@example.com', role: 'member' },
      ],
      ['desk@customer.example'],
    );
    await refuse(r, 'async', new Date());
    // A synchronous refusal was Heroku's own answer (422 with the message), and one of days ago is
    // settled: neither is emailed.
    const sync = await seedResource(world.pool, { plan: 'basic', state: 'refused' });
    await seedAccess(world, sync, [{ email: 'sid@example.com', role: 'owner' }]);
    await refuse(sync, 'sync', new Date());
    const old = await seedResource(world.pool, { plan: 'basic', state: 'refused' });
    await seedAccess(world, old, [{ email: 'olga@example.com', role: 'owner' }]);
    await refuse(old, 'async', new Date(Date.now() - 4 * 86_400_000));

    await eventually(async () => mailsOf(smtp, r).length >= 3, { what: 'the refusal emailed' });
    const mails = mailsOf(smtp, r);
    expect(mails.flatMap((m) => m.to).sort()).toEqual([
      'desk@customer.example',
      'raj@example.com',
      'rita@example.com',
    ]);
    for (const m of mails) {
      expect(m.parsed.subject).toBe('Your Basic add-on for quick-churn was not set up');
      expect(flat(m.parsed.text ?? '')).toContain(reason);
      expect(flat(m.parsed.text ?? '')).toContain('you are not charged for it');
      expect(m.header('x-meterline-alert-id')).toBe(`provision-refused:${r}`);
    }
    await eventually(async () => (await deliveryStates(world, r)).every((s) => s.state === 'sent'), {
      what: 'the deliveries recorded sent',
    });
    // Once: the rounds after it find nothing new, and the dashboard's list of usage emails leaves it out.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(mailsOf(smtp, r)).toHaveLength(3);
    expect(await deliveryStates(world, r)).toHaveLength(3);
    expect(await listNotifications(world.pool, r, 0)).toEqual([]);
    expect(mailsOf(smtp, sync)).toHaveLength(0);
    expect(mailsOf(smtp, old)).toHaveLength(0);
    const metrics = await (await fetch(`http://127.0.0.1:${notifier.opsPort}/metrics`)).text();
    expect(metrics).toMatch(/meterline_notifier_refusals_total\{[^}]*\} 1\n/);
  });

  it('tells the owner why the provider disabled their add-on, once', async ({ world }) => {
    const reason =
      'On 2026-11-15 this add-on used 50,000 api calls, 480 times what the busiest hobby customers use.';
    const r = await seedResource(world.pool, { plan: 'hobby', appName: 'spammy' });
    await seedAccess(world, r, [{ email: 'sal@example.com', role: 'owner' }]);
    // As the console's disable action leaves it (ADR 0016): a deprovision with who and why.
    await new ResourceStore(world.pool).deprovision(r, Date.now(), {
      disabledBy: 'admin@provider.test',
      reason,
    });
    await eventually(async () => mailsOf(smtp, r).length >= 1, { what: 'the disable emailed' });
    const [mail] = mailsOf(smtp, r);
    expect(mail!.to).toEqual(['sal@example.com']);
    expect(mail!.parsed.subject).toBe('Your Hobby add-on for spammy was disabled');
    expect(flat(mail!.parsed.text ?? '')).toContain(reason);
    expect(mail!.header('x-meterline-alert-id')).toBe(`disabled:${r}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(mailsOf(smtp, r)).toHaveLength(1);
  });
});

describe('notifier: coalescing and SMTP outages', () => {
  const it = outageTest;
  let smtp: SmtpCatcher;
  let notifier: RunningNotifier;

  it.beforeAll(async ({ world }) => {
    smtp = await startSmtpCatcher();
    notifier = await startNotifier(
      readNotifierConfig(notifierEnv(world, smtp, { NOTIFY_COALESCE_SECONDS: '2' })),
      quiet,
    );
    await notifier.joined;
  });
  it.afterAll(async () => {
    await notifier?.stop();
    await smtp?.close();
  });

  it('tiers arriving within the window share one email that mentions every tier', async ({ world }) => {
    const r = await seedResource(world.pool, { plan: 'basic' });
    await seedAccess(world, r, [
      { email: 'ada@example.com', name: 'Ada Owner', role: 'owner' },
      { email: 'cy@example.com', role: 'member' },
    ]);
    const alerts = [50, 75, 90, 100].map((t) => tierAlert(r, t));
    await publishAlerts(world, alerts);
    await eventually(async () => mailsOf(smtp, r).length >= 2, { what: 'the coalesced emails' });
    await new Promise((res) => setTimeout(res, 1000));
    const [ada] = mailsOf(smtp, r, 'ada@example.com');
    expect(mailsOf(smtp, r, 'ada@example.com')).toHaveLength(1);
    expect(alertIdsOf(ada!).sort()).toEqual(alerts.map((a) => a.id).sort());
    expect(ada!.parsed.subject).toBe(
      `You have used 100% of your Basic plan's API calls for ${monthName(monthStart())}`,
    );
    const text = flat(ada!.parsed.text ?? '');
    for (const t of [50, 75, 90, 100])
      expect(text).toContain(`${t}% tier: ${(t * 1000).toLocaleString('en-US')} of 100,000 API calls`);
    expect(text).toContain(BASIC_OVER_LIMIT);
    // The member receives only the CRITICAL tier, in an email of its own.
    const cy = mailsOf(smtp, r, 'cy@example.com');
    expect(cy).toHaveLength(1);
    expect(alertIdsOf(cy[0]!)).toEqual([alerts[3]!.id]);
    expect((await deliveryStates(world, r)).every((s) => s.state === 'sent')).toBe(true);
  });

  it('keeps recording while SMTP is down, retries with backoff, and delivers every email once when it is back', async ({
    world,
  }) => {
    const a = await seedResource(world.pool, { plan: 'basic' });
    const b = await seedResource(world.pool, { plan: 'basic' });
    for (const r of [a, b]) {
      await seedAccess(world, r, [
        { email: `owner-${r.slice(0, 6)}@example.com`, role: 'owner' },
        { email: `member-${r.slice(0, 6)}@example.com`, role: 'member' },
      ]);
    }
    await smtp.stop();
    const alerts = [a, b].flatMap((r) => [50, 75, 90, 100].map((t) => tierAlert(r, t)));
    await publishAlerts(world, alerts.slice(0, 4));
    // Resource b's alerts arrive during the outage and are still recorded at once.
    await eventually(async () => (await deliveryStates(world, a)).length === 5, {
      what: "a's deliveries recorded",
    });
    await publishAlerts(world, alerts.slice(4));
    await eventually(async () => (await deliveryStates(world, b)).length === 5, {
      what: "b's deliveries recorded",
    });
    await eventually(
      async () => {
        const states = [...(await deliveryStates(world, a)), ...(await deliveryStates(world, b))];
        return states.every((s) => s.state === 'pending' && s.attempts >= 2 && s.lastError !== null);
      },
      { what: 'retries while SMTP is down', timeoutMs: 30_000 },
    );
    const during = await deliveryStates(world, a);
    expect(during[0]!.lastError).toMatch(/ECONNREFUSED|ECONNECTION|ESOCKET/);
    expect(smtp.mails.filter((m) => [a, b].includes(m.header('x-meterline-resource-id')))).toHaveLength(0);

    await smtp.start();
    await eventually(
      async () => {
        const states = [...(await deliveryStates(world, a)), ...(await deliveryStates(world, b))];
        return states.every((s) => s.state === 'sent');
      },
      { what: 'every delivery sent after SMTP came back', timeoutMs: 30_000 },
    );
    await new Promise((res) => setTimeout(res, 500));
    for (const r of [a, b]) {
      const owner = `owner-${r.slice(0, 6)}@example.com`;
      const member = `member-${r.slice(0, 6)}@example.com`;
      const ownerIds = mailsOf(smtp, r, owner).flatMap(alertIdsOf).sort();
      expect(ownerIds).toEqual(
        alerts
          .filter((x) => x.resourceId === r)
          .map((x) => x.id)
          .sort(),
      );
      expect(mailsOf(smtp, r, member).flatMap(alertIdsOf)).toEqual([
        alerts.find((x) => x.resourceId === r && x.threshold === 100)!.id,
      ]);
    }
  });
});

describe('notifier: killed mid-send', () => {
  const it = killTest;

  it('sends every email after SIGKILLs, with duplicates only within the documented bound', async ({
    world,
  }) => {
    // Slow acceptance so that kills land while emails are in flight.
    const smtp = await startSmtpCatcher({ delayMs: 40 });
    const concurrency = 5;
    try {
      const resources = await Promise.all(
        Array.from({ length: 20 }, () => seedResource(world.pool, { plan: 'basic' })),
      );
      for (const r of resources) {
        await seedAccess(world, r, [
          { email: `owner-${r.slice(0, 8)}@example.com`, role: 'owner' },
          { email: `member-${r.slice(0, 8)}@example.com`, role: 'member' },
        ]);
      }
      const alerts = resources.flatMap((r) => [50, 75, 90, 100].map((t) => tierAlert(r, t)));
      const expectedPairs = new Set(
        alerts.flatMap((a) => {
          const owner = `owner-${a.resourceId.slice(0, 8)}@example.com`;
          const member = `member-${a.resourceId.slice(0, 8)}@example.com`;
          return a.threshold === 100 ? [`${a.id}|${owner}`, `${a.id}|${member}`] : [`${a.id}|${owner}`];
        }),
      );
      // Published at once, the alerts are coalesced into a few dozen emails: enough sends to interrupt.
      const env = notifierEnv(world, smtp, { NOTIFY_SEND_CONCURRENCY: String(concurrency) });
      await publishAlerts(world, alerts);
      const kills = 2;
      for (let k = 0; k < kills; k++) {
        const proc = startServiceProcess('services/notifier/src/main.ts', env);
        const before = smtp.mails.length;
        await eventually(async () => smtp.mails.length >= before + 10, {
          timeoutMs: 60_000,
          what: `progress before kill ${k + 1}`,
        }).catch((err: Error) => {
          throw new Error(`${err.message}\n${proc.output().slice(-3000)}`);
        });
        await proc.kill('SIGKILL');
      }
      const last = startServiceProcess('services/notifier/src/main.ts', env);
      try {
        await eventually(
          async () => {
            return (await new DeliveryStore(world.pool).countIn('sent')) === expectedPairs.size;
          },
          { timeoutMs: 90_000, what: 'every delivery sent' },
        ).catch((err: Error) => {
          throw new Error(`${err.message}\n${last.output().slice(-3000)}`);
        });
        await new Promise((res) => setTimeout(res, 500));
      } finally {
        await last.started();
        expect(await last.kill('SIGTERM')).toBe(0);
      }
      // Every (alert, recipient) arrived, and only ever in one message (one Message-ID).
      const messagesOf = new Map<string, Set<string>>();
      const copies = new Map<string, number>();
      for (const m of smtp.mails) {
        const id = String(m.parsed.messageId);
        copies.set(id, (copies.get(id) ?? 0) + 1);
        for (const alertId of alertIdsOf(m)) {
          for (const to of m.to)
            messagesOf.set(`${alertId}|${to}`, (messagesOf.get(`${alertId}|${to}`) ?? new Set()).add(id));
        }
      }
      expect(new Set(messagesOf.keys())).toEqual(expectedPairs);
      for (const [pair, ids] of messagesOf) expect(ids.size, pair).toBe(1);
      // ADR 0005: each crash can repeat at most the emails in flight at that moment, once.
      const duplicated = [...copies.values()].reduce((n, c) => n + (c - 1), 0);
      expect(duplicated).toBeLessThanOrEqual(kills * concurrency);
      for (const c of copies.values()) expect(c).toBeLessThanOrEqual(1 + kills);
      console.log(
        `kill test: ${copies.size} emails (${smtp.mails.length} received) for ${expectedPairs.size} deliveries; ${duplicated} repeated`,
      );
    } finally {
      await smtp.close();
    }
  });
});
