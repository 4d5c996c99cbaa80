import { randomUUID } from 'node:crypto';
import { TeamAccess } from '@meterline/access';
import { type FakePlatform, startFakePlatform } from '@meterline/heroku/fake';
import { AccessStore, PlatformJobs, ResourceStore } from '@meterline/resources';
import { ageAccessList, seedResources, storedTokens } from '@meterline/resources/fixtures';
import { eventually, type TestWorld, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { heroku, OAUTH_SECRET, provisionBody, startTestApi, testClock } from './testkit.ts';
import type { RunningApi } from './wire.ts';

const NOW = Date.UTC(2026, 10, 10, 12);
const DAY = 86_400_000;

async function stateOf(world: TestWorld, id: string): Promise<string | undefined> {
  return (await new ResourceStore(world.pool).get(id))?.state;
}

async function accessOf(world: TestWorld, id: string) {
  const { entries } = await new AccessStore(world.pool).get(id);
  return entries.sort((a, b) => (a.email < b.email ? -1 : 1));
}

/** The message and code the api recorded when it refused the resource's provision. */
async function refusalOf(world: TestWorld, id: string) {
  const events = await new ResourceStore(world.pool).events(id);
  return events.find((e) => e.kind === 'provision_refused')?.detail as { code: string; message: string };
}

const it = worldTest('apiasync');

describe('Partner API, asynchronous provisioning through the Platform API', () => {
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

  it.beforeAll(async ({ world }) => {
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
    // Owned by someone else; a company user who may install hidden plans is only a collaborator.
    fake.state.addApp({
      id: 'app-helped',
      name: 'helped',
      owner: { id: 'u-helped', email: 'helped@example.test' },
      collaborators: [{ id: 'u-staff', email: 'staff@meterline.test', role: 'collaborator' }],
    });
    // Owned by a company user without the install permission.
    fake.state.addApp({
      id: 'app-support',
      name: 'supporty',
      owner: { id: 'u-support', email: 'support@meterline.test' },
    });
  });
  it.afterAll(async () => {
    await api?.stop();
    await fake?.close();
  });

  it('answers 202, then sets the config, marks it provisioned and stores the access list', async ({
    world,
  }) => {
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
      { email: 'contractor@example.test', role: 'member', userId: 'u-contractor' },
      { email: 'dev@acme.test', role: 'member', userId: 'u-dev' },
      { email: 'lead@acme.test', role: 'admin', userId: 'u-lead' },
    ]);
    expect(await new ResourceStore(world.pool).get(id)).toMatchObject({
      appId: 'app-team',
      appName: 'acme-api',
    });
    // Sealed at rest: no live token of the fake appears in the stored value.
    const sealed = await storedTokens(world.pool, id);
    expect(sealed).not.toBeNull();
    for (const token of fake.state.accessTokens.keys()) expect(sealed).not.toContain(token);
    const history = await new ResourceStore(world.pool).events(id);
    expect(history.map((e) => e.kind)).toEqual(['provision']);

    // A repeat of the request answers the same, and the spent grant is not exchanged again.
    const exchanges = fake.state.requests.filter((r) => r === 'POST /id/oauth/token').length;
    const repeat = await heroku(api, 'POST', '/heroku/resources', body);
    expect(repeat).toMatchObject({ status: 202, body: res.body });
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.state.requests.filter((r) => r === 'POST /id/oauth/token').length).toBe(exchanges);
  });

  it('refuses through the Platform API an app that provisions and deprovisions too often', async ({
    world,
  }) => {
    // Two completed cycles of this app within the week; the policy allows one.
    await seedResources(
      world.pool,
      [5, 3].map((daysAgo) => ({
        state: 'deprovisioned',
        appId: 'app-churn',
        ownerId: 'u-churn',
        provisionedAt: new Date(NOW - daysAgo * DAY),
        deprovisionedAt: new Date(NOW - daysAgo * DAY + 3_600_000),
      })),
    );
    const body = asyncRequest('app-churn');
    const id = body.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(202);

    await eventually(async () => (await stateOf(world, id)) === 'refused', { what: 'refused' });
    expect(fake.state.stateOf(id)).toBe('deprovisioned');
    expect(fake.state.requests).not.toContain(`POST /addons/${id}/actions/provision`);
    const refusal = await refusalOf(world, id);
    expect(refusal.code).toBe('churn');
    expect(refusal.message).toContain('2 times in the last 7 days');
    // The recipients were read before Heroku revoked the authorization.
    expect(await accessOf(world, id)).toEqual([
      { email: 'churn@example.test', role: 'owner', userId: 'u-churn' },
    ]);

    // What the api recorded is what the notifier reads to tell them why (ADR 0003; the emails
    // themselves: the notifier's tests), with the app's name for the subject.
    const told = await new ResourceStore(world.pool).refusalsAndDisables(
      { at: NOW - DAY, eventId: '0' },
      100,
    );
    expect(told.filter((t) => t.resourceId === id)).toEqual([
      expect.objectContaining({ kind: 'refused', plan: 'basic', reason: refusal.message }),
    ]);
    expect((await new ResourceStore(world.pool).get(id))?.appName).toBe('churny');
  });

  it('lets a company user with the permission install a hidden plan, asked by them; revoking keeps it', async ({
    world,
  }) => {
    const team = new TeamAccess(world.pool);
    const script = { accountId: null, email: 'test-setup', ip: null };
    for (const email of ['staff@meterline.test', 'support@meterline.test'])
      await team.createAccount({ email, name: email, password: 'a long enough password' }, null);
    await team.addCompanyUser({ email: 'staff@meterline.test', permissions: ['install_plans'] }, script);
    await team.addCompanyUser({ email: 'support@meterline.test', permissions: ['support'] }, script);
    const staff = asyncRequest('app-staff', 'enterprise');
    const requests = {
      // no company user at all
      plain: asyncRequest('app-plain', 'enterprise'),
      // the company user is a collaborator, not the one who asks
      helped: asyncRequest('app-helped', 'enterprise'),
      // a company user without the permission
      support: asyncRequest('app-support', 'enterprise'),
    };
    for (const body of [staff, ...Object.values(requests)])
      expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(202);
    await eventually(async () => (await stateOf(world, staff.uuid as string)) === 'provisioned', {
      what: 'staff provisioned',
    });
    for (const [name, body] of Object.entries(requests)) {
      await eventually(async () => (await stateOf(world, body.uuid as string)) === 'refused', {
        what: `${name} refused`,
      });
      expect((await refusalOf(world, body.uuid as string)).message).toContain('not publicly available');
    }

    // Revoking the company user leaves what they installed on the hidden plan: listed as orphaned.
    expect(await team.hiddenInstalls()).toEqual([
      expect.objectContaining({
        resourceId: staff.uuid,
        plan: 'enterprise',
        installedBy: 'staff@meterline.test',
        orphaned: false,
      }),
    ]);
    await team.removeCompanyUser('staff@meterline.test', script);
    expect(await stateOf(world, staff.uuid as string)).toBe('provisioned');
    expect(fake.state.stateOf(staff.uuid as string)).not.toBe('deprovisioned');
    expect(await team.hiddenInstalls()).toEqual([
      expect.objectContaining({
        resourceId: staff.uuid,
        installedBy: 'staff@meterline.test',
        orphaned: true,
      }),
    ]);
  });

  it('retries when the Platform API fails, and refreshes expired tokens', async ({ world }) => {
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
    await ageAccessList(world.pool, id, 600);
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

  it('stops an async provision that Heroku deprovisions before it completed', async ({ world }) => {
    const body = provisionBody({ plan: 'basic', oauth_grant: { code: `grant-${randomUUID()}` } });
    // The fake does not know this grant: the exchange fails for good, and the resource stays provisioning.
    const id = body.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(202);
    await eventually(
      async () => {
        return (await new PlatformJobs(world.pool).get(id))?.lastError ?? undefined;
      },
      { what: 'the job to fail' },
    );
    expect(await stateOf(world, id)).toBe('provisioning');
    expect((await heroku(api, 'DELETE', `/heroku/resources/${id}`)).status).toBe(204);
    expect(await stateOf(world, id)).toBe('deprovisioned');
    expect(await new PlatformJobs(world.pool).get(id)).toBeNull();
  });
});
