import { randomUUID } from 'node:crypto';
import { ALL_PERMISSIONS, TeamAccess } from '@meterline/access';
import { AlertOutbox } from '@meterline/alerts';
import { ContractCodec, createKafka, createRegistry, type Producer, subjectFor } from '@meterline/kafka';
import { ResourceStore } from '@meterline/resources';
import { seedResources } from '@meterline/resources/fixtures';
import { periodOf } from '@meterline/rules';
import type { UsageAlert } from '@meterline/schemas';
import { eventually, type TestWorld, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { CONSOLE_COOKIE } from './routes/console.ts';
import { log, startTestApi } from './testkit.ts';
import type { RunningApi } from './wire.ts';

const PASSWORD = 'correct horse battery';

interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** A signed-in reader of /console/live/stream: every event it got, until closed. */
async function openStream(api: RunningApi, cookie: string, lastEventId?: string, query = '') {
  const abort = new AbortController();
  const res = await fetch(`${api.url}/console/live/stream${query}`, {
    headers: { cookie, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
    signal: abort.signal,
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const events: SseEvent[] = [];
  const done = (async () => {
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        let end = text.indexOf('\n\n');
        while (end >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const field = (name: string) =>
            block
              .split('\n')
              .find((l) => l.startsWith(`${name}: `))
              ?.slice(name.length + 2) ?? null;
          if (field('event')) events.push({ id: field('id'), event: field('event')!, data: field('data')! });
          end = text.indexOf('\n\n');
        }
      }
    } catch {}
  })();
  return {
    events,
    /** The keys of the rows received, in order. */
    keys: () =>
      events.filter((e) => e.event === 'row').map((e) => (JSON.parse(e.data) as { key: string }).key),
    ready: () => eventually(async () => events.some((e) => e.event === 'ready'), { what: 'the ready event' }),
    async close() {
      abort.abort();
      await done;
    },
  };
}

const it = worldTest('apilive');

describe('the live stream and its backfill show a partner employee only their clients', () => {
  let api: RunningApi;
  let producer: Producer;
  let outbox: AlertOutbox;
  let codec: ContractCodec<UsageAlert>;
  let acme: string;
  let beta: string;
  const cookies: Record<string, string> = {};

  it.beforeAll(async ({ world }) => {
    api = await startTestApi(world, { PROVISIONING_MODE: 'sync' }, Date.now);
    [acme, beta] = (await seedResources(world.pool, [
      { plan: 'basic', ownerId: 'team-acme', ownerEmail: 'boss@acme.test' },
      { plan: 'basic', ownerId: 'team-beta', ownerEmail: 'boss@beta.test' },
    ])) as [string, string];
    const team = new TeamAccess(world.pool);
    const script = { accountId: null, email: 'test setup', ip: null };
    for (const email of ['admin@provider.test', 'pete@northwind.test'])
      await team.createAccount({ email, name: email, password: PASSWORD }, script);
    await team.addCompanyUser(
      { email: 'admin@provider.test', permissions: ALL_PERMISSIONS, superAdmin: true },
      script,
    );
    await team.addPartnerEmployee({ email: 'pete@northwind.test', partner: 'Northwind' }, script);
    const clients = await new ResourceStore(world.pool).clients({ all: true });
    await team.assign(
      {
        email: 'pete@northwind.test',
        partner: 'Northwind',
        clients: clients.filter((c) => c.id === 'team-acme'),
      },
      script,
    );
    await team.grant('team-acme', 'pete@northwind.test', 'boss@acme.test');
    for (const email of ['admin@provider.test', 'pete@northwind.test']) {
      const res = await fetch(`${api.url}/console/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email, password: PASSWORD }).toString(),
      });
      expect(res.status).toBe(303);
      cookies[email] = res.headers
        .getSetCookie()
        .find((c) => c.startsWith(`${CONSOLE_COOKIE}=`))!
        .split(';')[0]!;
    }
    producer = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'live-test' }, log).producer();
    await producer.connect();
    outbox = new AlertOutbox(world.pool, 'test');
    codec = new ContractCodec(
      createRegistry(world.urls.registryUrl),
      subjectFor(world.topics.alerts),
      'UsageAlert',
    );
  });
  it.afterAll(async () => {
    await producer?.disconnect();
    await api?.stop();
  });

  /** Decides, stores and publishes one alert, as the evaluator's outbox does; returns its id. */
  async function alertOf(world: TestWorld, resourceId: string, threshold: number): Promise<string> {
    const id = randomUUID();
    await outbox.record([
      {
        id,
        resourceId,
        plan: 'basic',
        metric: 'api_calls',
        period: periodOf(Date.now()),
        occurredAt: Date.now(),
        kind: 'THRESHOLD',
        threshold,
        severity: 'WARNING',
        used: threshold * 1000,
        limit: 100_000,
        percent: threshold,
        projected: null,
        expectedDailyAverage: 3000,
      },
    ]);
    await outbox.publishPending(producer, codec, world.topics.alerts);
    return id;
  }

  it('streams and backfills only the assigned client rows to the partner employee', async ({ world }) => {
    const before = Date.now() - 1000;
    // Published before anyone watched: the backfill's part (a resume from another instance's id).
    const oldAcme = await alertOf(world, acme, 50);
    const oldBeta = await alertOf(world, beta, 50);
    const foreignId = `deadbeef.7.${before}`;
    const admin = await openStream(api, cookies['admin@provider.test']!, foreignId);
    const pete = await openStream(api, cookies['pete@northwind.test']!, foreignId);
    // The company user searching by the start of acme's resource id, warnings only.
    const searched = await openStream(
      api,
      cookies['admin@provider.test']!,
      foreignId,
      `?q=${acme.slice(0, 8)}&severity=warning&kind=THRESHOLD`,
    );
    await Promise.all([admin.ready(), pete.ready(), searched.ready()]);
    expect(searched.keys()).toEqual([`alert:${oldAcme}`]);
    await searched.close();
    expect(admin.keys()).toEqual(expect.arrayContaining([`alert:${oldAcme}`, `alert:${oldBeta}`]));
    expect(pete.keys()).toEqual([`alert:${oldAcme}`]);

    // Live: beta's alert and a DLQ record keyed by beta's resource reach the company user only.
    const newBeta = await alertOf(world, beta, 75);
    await producer.send({
      topic: world.topics.dlq,
      messages: [
        {
          key: beta,
          value: 'garbage',
          headers: {
            'dlq-reason': 'undecodable',
            'dlq-error': 'not JSON',
            'dlq-topic': 'x',
            'dlq-partition': '0',
            'dlq-offset': '9',
          },
        },
      ],
    });
    await eventually(
      async () => admin.keys().includes(`alert:${newBeta}`) && admin.keys().includes('dlq:x[0]@9'),
      {
        what: "beta's alert and DLQ record on the company user's stream",
      },
    );
    // Handed to every stream in order after those: once Pete has it, he was offered them before.
    const newAcme = await alertOf(world, acme, 75);
    await eventually(async () => pete.keys().includes(`alert:${newAcme}`), { what: "acme's alert for Pete" });
    expect(pete.keys()).toEqual([`alert:${oldAcme}`, `alert:${newAcme}`]);
    await eventually(async () => admin.keys().includes(`alert:${newAcme}`), {
      what: "acme's alert for admin",
    });

    // Resuming from the last id on this instance: nothing again, nothing missed.
    const lastId = pete.events.filter((e) => e.id).at(-1)!.id!;
    await pete.close();
    const missed = await alertOf(world, acme, 90);
    await alertOf(world, beta, 90);
    const again = await openStream(api, cookies['pete@northwind.test']!, lastId);
    await eventually(async () => again.keys().includes(`alert:${missed}`), { what: 'the missed alert' });
    await again.ready();
    expect(again.keys()).toEqual([`alert:${missed}`]);

    // The rendered page is scoped the same way.
    const page = await fetch(`${api.url}/console/live`, {
      headers: { cookie: cookies['pete@northwind.test']! },
    });
    const html = await page.text();
    expect(html).toContain(`alert:${oldAcme}`);
    expect(html).not.toContain(beta);
    await Promise.all([admin.close(), again.close()]);
  });
});
