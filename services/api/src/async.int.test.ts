import { randomUUID } from 'node:crypto';
import { type FakePlatform, startFakePlatform } from '@meterline/heroku/fake';
import { DeliveryStore, PlanBook, recordProvisionRefusals, refusalNoticeId } from '@meterline/notifier';
import { loadPlanCatalog } from '@meterline/rules';
import { createTestWorld, eventually, type TestWorld } from '@meterline/test/support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heroku, log, OAUTH_SECRET, PLANS_FILE, provisionBody, startTestApi, testClock } from './testkit.ts';
import type { RunningApi } from './wire.ts';

const NOW = Date.UTC(2026, 10, 10, 12);
const DAY = 86_400_000;

async function stateOf(world: TestWorld, id: string): Promise<string | undefined> {
  const { rows } = await world.pool.query('SELECT state FROM resources WHERE id = $1', [id]);
  return rows[0]?.state;
}

async function accessOf(world: TestWorld, id: string) {
  const { rows } = await world.pool.query(
    'SELECT email, role, user_id FROM resource_access WHERE resource_id = $1 ORDER BY email',
    [id],
  );
  return rows;
}

describe('Partner API, asynchronous provisioning through the Platform API', () => {
  let world: TestWorld;
  let api: RunningApi;
  let fake: FakePlatform;
  const clock = testClock(NOW);

  /** A provision request whose grant the fake knows, for an app it knows. */
  function asyncRequest(appId: string, plan = 'basic') {
    const body = provisionBody({
      plan,
      oauth_grant: { code: `grant-${randomUUID()}`, type: 'authorization_code' },
    });
    fake.state.registerGrant((body.oauth_grant as { code: string }).code, {
      addonId: body.uuid as string,
      appId,
      plan,
    });
    return body;
  }

  beforeAll(async () => {
    world = await createTestWorld('apiasync');
    fake = await startFakePlatform({ clientSecret: OAUTH_SECRET });
    api = await startTestApi(
      world,
      {
        PROVISIONING_MODE: 'async',
        HEROKU_API_URL: fake.url,
        HEROKU_ID_URL: fake.idUrl,
        PROVISION_MAX_CHURN: '1',
        PROVISION_CHURN_WINDOW_DAYS: '7',
      },
      clock.now,
    );
    fake.state.addApp({
      id: 'app-team',
      name: 'acme-api',
      owner: { id: 'team-pseudo', email: 'acme@herokumanager.com' },
      collaborators: [{ id: 'u-contractor', email: 'contractor@example.test', role: 'member' }],
      team: {
        name: 'acme',
        members: [
          { id: 'u-lead', email: 'lead@acme.test', role: 'admin' },
          { id: 'u-dev', email: 'dev@acme.test', role: 'member' },
          { id: 'u-guest', email: 'guest@acme.test', role: 'collaborator' },
        ],
      },
    });
    fake.state.addApp({
      id: 'app-churn',
      name: 'churny',
      owner: { id: 'u-churn', email: 'churn@example.test' },
    });
    fake.state.addApp({
      id: 'app-plain',
      name: 'plain',
      owner: { id: 'u-plain', email: 'plain@example.test' },
    });
    fake.state.addApp({
      id: 'app-staff',
      name: 'staffy',
      owner: { id: 'u-staff', email: 'Staff@Meterline.test' },
    });
  });
  afterAll(async () => {
    await api?.stop();
    await fake?.close();
    await world?.close();
  });

  it('answers 202, then sets the config, marks it provisioned and stores the access list', async () => {
    const body = asyncRequest('app-team');
    const id = body.uuid as string;
    const res = await heroku(api, 'POST', '/heroku/resources', body);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id, message: expect.stringContaining('Basic') });
    expect(res.body).not.toHaveProperty('config');

    await eventually(async () => (await stateOf(world, id)) === 'provisioned', { what: 'provisioned' });
    expect(fake.state.stateOf(id)).toBe('provisioned');
    expect(fake.state.configOf(id)).toEqual({ METERLINE_RESOURCE_ID: id });
    const calls = fake.state.requests.filter((r) => r.includes(id) || r.startsWith('POST /id'));
    expect(calls.indexOf(`PATCH /addons/${id}/config`)).toBeLessThan(
      calls.indexOf(`POST /addons/${id}/actions/provision`),
    );

    // Team app: the pseudo-owner is no person; team role "collaborator" comes only through the collaborators.
    expect(await accessOf(world, id)).toEqual([
      { email: 'contractor@example.test', role: 'member', user_id: 'u-contractor' },
      { email: 'dev@acme.test', role: 'member', user_id: 'u-dev' },
      { email: 'lead@acme.test', role: 'admin', user_id: 'u-lead' },
    ]);
    const { rows } = await world.pool.query(
      'SELECT r.app_id, r.app_name, t.sealed FROM resources r JOIN resource_oauth_tokens t ON t.resource_id = r.id WHERE r.id = $1',
      [id],
    );
    expect(rows[0]).toMatchObject({ app_id: 'app-team', app_name: 'acme-api' });
    // Sealed at rest: no live token of the fake appears in the stored value.
    for (const token of fake.state.accessTokens.keys()) expect(rows[0].sealed).not.toContain(token);
    const { rows: history } = await world.pool.query(
      'SELECT kind FROM resource_events WHERE resource_id = $1',
      [id],
    );
    expect(history).toEqual([{ kind: 'provision' }]);

    // A repeat of the request answers the same, and the spent grant is not exchanged again.
    const exchanges = fake.state.requests.filter((r) => r === 'POST /id/oauth/token').length;
    const repeat = await heroku(api, 'POST', '/heroku/resources', body);
    expect(repeat).toMatchObject({ status: 202, body: res.body });
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.state.requests.filter((r) => r === 'POST /id/oauth/token').length).toBe(exchanges);
  });

  it('refuses through the Platform API an app that provisions and deprovisions too often', async () => {
    // Two completed cycles of this app within the week; the policy allows one.
    for (const daysAgo of [5, 3]) {
      await world.pool.query(
        `INSERT INTO resources (id, plan, state, app_id, owner_id, provisioned_at, deprovisioned_at)
         VALUES ($1, 'basic', 'deprovisioned', 'app-churn', 'u-churn', $2, $3)`,
        [randomUUID(), new Date(NOW - daysAgo * DAY), new Date(NOW - daysAgo * DAY + 3_600_000)],
      );
    }
    const body = asyncRequest('app-churn');
    const id = body.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(202);

    await eventually(async () => (await stateOf(world, id)) === 'refused', { what: 'refused' });
    expect(fake.state.stateOf(id)).toBe('deprovisioned');
    expect(fake.state.requests).not.toContain(`POST /addons/${id}/actions/provision`);
    const { rows } = await world.pool.query(
      `SELECT detail FROM resource_events WHERE resource_id = $1 AND kind = 'provision_refused'`,
      [id],
    );
    expect(rows[0].detail.code).toBe('churn');
    expect(rows[0].detail.message).toContain('2 times in the last 7 days');
    // The recipients were read before Heroku revoked the authorization.
    expect(await accessOf(world, id)).toEqual([
      { email: 'churn@example.test', role: 'owner', user_id: 'u-churn' },
    ]);

    // What the api recorded is what the notifier reads to tell them why (its SMTP side: notifier tests).
    const notifier = {
      pool: world.pool,
      store: new DeliveryStore(world.pool),
      plans: new PlanBook(loadPlanCatalog(PLANS_FILE)),
      email: {
        dashboardUrl: 'http://127.0.0.1:3001',
        providerName: 'Meterline',
        supportContact: undefined,
        messageIdDomain: 'meterline.test',
      },
      log,
    };
    expect(await recordProvisionRefusals(notifier, clock.now())).toEqual({
      refusals: 1,
      pending: 1,
      refused: 0,
    });
    expect((await recordProvisionRefusals(notifier, clock.now())).refusals).toBe(0);
    const { rows: emails } = await world.pool.query(
      `SELECT e.recipient, e.subject, e.text_body, d.alert_id, d.state FROM emails e JOIN deliveries d ON d.email_id = e.id
       WHERE e.resource_id = $1`,
      [id],
    );
    expect(emails).toHaveLength(1);
    expect(emails[0]).toMatchObject({
      recipient: 'churn@example.test',
      subject: 'Your Basic add-on for churny was not set up',
      alert_id: refusalNoticeId(id),
      state: 'pending',
    });
    expect(emails[0].text_body.replace(/\s+/g, ' ')).toContain(rows[0].detail.message);
  });

  it('lets a company user install a hidden plan and refuses it to anyone else', async () => {
    await world.pool.query(
      `INSERT INTO staff_users (email, kind) VALUES ('staff@meterline.test', 'company')`,
    );
    const staff = asyncRequest('app-staff', 'enterprise');
    const other = asyncRequest('app-plain', 'enterprise');
    expect((await heroku(api, 'POST', '/heroku/resources', staff)).status).toBe(202);
    expect((await heroku(api, 'POST', '/heroku/resources', other)).status).toBe(202);
    await eventually(async () => (await stateOf(world, staff.uuid as string)) === 'provisioned', {
      what: 'staff provisioned',
    });
    await eventually(async () => (await stateOf(world, other.uuid as string)) === 'refused', {
      what: 'other refused',
    });
    const { rows } = await world.pool.query(
      `SELECT detail->>'message' AS message FROM resource_events WHERE resource_id = $1 AND kind = 'provision_refused'`,
      [other.uuid],
    );
    expect(rows[0].message).toContain('not publicly available');
  });

  it('retries when the Platform API fails, and refreshes expired tokens', async () => {
    fake.state.failNext(2, 503);
    const body = asyncRequest('app-plain', 'hobby');
    const id = body.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(202);
    await eventually(async () => (await stateOf(world, id)) === 'provisioned', {
      what: 'provisioned after retries',
      timeoutMs: 60_000,
    });

    // Eight hours later: tokens expired, the app gained a collaborator; the next refresh sees both.
    fake.state.expireAccessTokens();
    fake.state.findApp('app-plain')!.collaborators = [
      { id: 'u-new', email: 'new@example.test', role: 'collaborator' },
    ];
    await world.pool.query(
      `UPDATE resource_access_sync SET synced_at = now() - interval '10 minutes' WHERE resource_id = $1`,
      [id],
    );
    await api.worker.refreshStaleAccess();
    expect((await accessOf(world, id)).map((e: { email: string }) => e.email)).toEqual([
      'new@example.test',
      'plain@example.test',
    ]);
  });

  it('refuses at once, with 422, what needs no Platform API facts', async () => {
    const res = await heroku(api, 'POST', '/heroku/resources', asyncRequest('app-plain', 'platinum'));
    expect(res.status).toBe(422);
    expect(res.body.message).toContain('platinum');
  });

  it('stops an async provision that Heroku deprovisions before it completed', async () => {
    const body = provisionBody({ plan: 'basic', oauth_grant: { code: `grant-${randomUUID()}` } });
    // The fake does not know this grant: the exchange fails for good, and the resource stays provisioning.
    const id = body.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(202);
    await eventually(
      async () => {
        const { rows } = await world.pool.query(
          'SELECT last_error FROM platform_jobs WHERE resource_id = $1',
          [id],
        );
        return rows[0]?.last_error ?? undefined;
      },
      { what: 'the job to fail' },
    );
    expect(await stateOf(world, id)).toBe('provisioning');
    expect((await heroku(api, 'DELETE', `/heroku/resources/${id}`)).status).toBe(204);
    expect(await stateOf(world, id)).toBe('deprovisioned');
    expect(
      (await world.pool.query('SELECT 1 FROM platform_jobs WHERE resource_id = $1', [id])).rowCount,
    ).toBe(0);
  });
});
