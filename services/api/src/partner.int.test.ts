import { randomUUID } from 'node:crypto';
import { basicAuthHeader } from '@meterline/heroku';
import { type FakePlatform, startFakePlatform } from '@meterline/heroku/fake';
import { ResourceDirectory } from '@meterline/metering';
import { AccessStore, ResourceStore } from '@meterline/resources';
import { eventually, type TestWorld, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import {
  ADDON_ID,
  heroku,
  log,
  OAUTH_SECRET,
  provisionBody,
  startTestApi,
  testClock,
  usageSeeder,
} from './testkit.ts';
import type { RunningApi } from './wire.ts';

// Mid-November 2026: past half the month, so downgrade projections count too.
const NOV_20 = Date.UTC(2026, 10, 20, 12);
const DEC_2 = Date.UTC(2026, 11, 2, 9);

const events = (world: TestWorld, id: string) => new ResourceStore(world.pool).events(id);

async function resourceRow(world: TestWorld, id: string) {
  return (await new ResourceStore(world.pool).get(id)) ?? undefined;
}

const it = worldTest('apisync');

describe('Partner API, synchronous provisioning (kensa-style flow)', () => {
  let api: RunningApi;
  let fake: FakePlatform;
  const clock = testClock(NOV_20);

  it.beforeAll(async ({ world }) => {
    fake = await startFakePlatform({ clientSecret: OAUTH_SECRET });
    api = await startTestApi(
      world,
      {
        PROVISIONING_MODE: 'sync',
        SUPPORTED_REGIONS: 'us-east-1,eu-west-1',
        HEROKU_API_URL: fake.url,
        HEROKU_ID_URL: fake.idUrl,
      },
      clock.now,
    );
  });
  it.afterAll(async () => {
    await api?.stop();
    await fake?.close();
  });

  it('runs provision, repeat, upgrade, refused and accepted downgrade, deprovision', async ({ world }) => {
    const seed = usageSeeder(world);
    const body = provisionBody({ plan: 'basic' });
    const id = body.uuid as string;

    const first = await heroku(api, 'POST', '/heroku/resources', body);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      id,
      config: { METERLINE_RESOURCE_ID: id },
      message: expect.stringContaining('Basic'),
    });
    expect(await resourceRow(world, id)).toMatchObject({ state: 'provisioned', plan: 'basic' });

    // At-least-once delivery: the same uuid answers the same and creates nothing.
    const repeat = await heroku(api, 'POST', '/heroku/resources', { ...body, plan: 'pro' });
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual(first.body);
    expect((await events(world, id)).map((e) => e.kind)).toEqual(['provision']);
    expect(await resourceRow(world, id)).toMatchObject({ id, plan: 'basic' });

    // Upgrade: the period's counters stay, the new limits apply from now.
    await seed.add(id, 'api_calls', 150_000, NOV_20 - 3_600_000, NOV_20);
    const up = await heroku(api, 'PUT', `/heroku/resources/${id}`, {
      plan: 'pro',
      heroku_id: 'app123@kensa.heroku.com',
    });
    expect(up.status).toBe(200);
    expect(up.body.message).toContain('Pro');
    const afterUp = await resourceRow(world, id);
    expect(afterUp?.plan).toBe('pro');
    expect(afterUp?.planChangedAt).toBe(NOV_20);
    expect(await seed.counters.periodUsage(id, '2026-11')).toEqual({ api_calls: 150_000 });

    // Same plan: a no-op.
    const same = await heroku(api, 'PUT', `/heroku/resources/${id}`, { plan: 'pro' });
    expect(same.status).toBe(200);
    expect((await events(world, id)).length).toBe(2);

    // Downgrade refused: 150,000 API calls used, Basic includes 100,000, accepted from December 1.
    const down = await heroku(api, 'PUT', `/heroku/resources/${id}`, { plan: 'basic' });
    expect(down.status).toBe(422);
    const message = down.body.message as string;
    expect(message).toContain('API calls');
    expect(message).toContain('150,000');
    expect(message).toContain('100,000');
    expect(message).toContain('December 1, 2026');
    expect((await resourceRow(world, id))?.plan).toBe('pro');
    const refused = (await events(world, id)).at(-1)!;
    expect(refused).toMatchObject({ kind: 'plan_change_refused', fromPlan: 'pro', toPlan: 'basic' });
    expect(refused.detail.message).toBe(message);

    // The unknown plan is a refusal with its reason, not a crash.
    const nowhere = await heroku(api, 'PUT', `/heroku/resources/${id}`, { plan: 'platinum' });
    expect(nowhere.status).toBe(422);
    expect(nowhere.body.message).toContain('platinum');

    // The period rolls over: December's usage is 0, the downgrade fits.
    clock.set(DEC_2);
    const later = await heroku(api, 'PUT', `/heroku/resources/${id}`, { plan: 'basic' });
    expect(later.status).toBe(200);
    expect((await resourceRow(world, id))?.plan).toBe('basic');

    // Deprovision: never refused, idempotent, history kept.
    const gone = await heroku(api, 'DELETE', `/heroku/resources/${id}`);
    expect(gone.status).toBe(204);
    const again = await heroku(api, 'DELETE', `/heroku/resources/${id}`);
    expect(again.status).toBe(204);
    expect(await resourceRow(world, id)).toMatchObject({ state: 'deprovisioned', plan: 'basic' });
    expect((await events(world, id)).map((e) => e.kind)).toEqual([
      'provision',
      'plan_change',
      'plan_change_refused',
      'plan_change',
      'deprovision',
    ]);
    const afterGone = await heroku(api, 'PUT', `/heroku/resources/${id}`, { plan: 'pro' });
    expect(afterGone.status).toBe(404);
    clock.set(NOV_20);
  });

  it('announces accepted changes so the ingestor and evaluator caches see them at once', async ({
    world,
  }) => {
    const changed: string[] = [];
    const directory = new ResourceDirectory(
      world.pool,
      log,
      { databaseUrl: world.urls.databaseUrl, schema: world.schema },
      (id) => changed.push(id),
    );
    await directory.start();
    try {
      const body = provisionBody({ plan: 'hobby' });
      const id = body.uuid as string;
      expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(200);
      expect((await directory.getMany([id])).get(id)).toMatchObject({ plan: 'hobby', state: 'provisioned' });
      expect((await heroku(api, 'PUT', `/heroku/resources/${id}`, { plan: 'pro' })).status).toBe(200);
      await eventually(async () => changed.filter((c) => c === id).length >= 2, {
        what: 'the change notification',
      });
      expect((await directory.getMany([id])).get(id)).toMatchObject({ plan: 'pro' });
    } finally {
      await directory.stop();
    }
  });

  it('answers 2xx to a deprovision of an id it never saw', async () => {
    expect((await heroku(api, 'DELETE', `/heroku/resources/${randomUUID()}`)).status).toBe(204);
    expect((await heroku(api, 'DELETE', '/heroku/resources/not-a-uuid')).status).toBe(204);
  });

  it('treats an empty body with a JSON content type as no body: DELETE deprovisions, POST and PUT get 400', async ({
    world,
  }) => {
    const body = provisionBody({ plan: 'basic' });
    const id = body.uuid as string;
    expect((await heroku(api, 'POST', '/heroku/resources', body)).status).toBe(200);
    const before = await new ResourceStore(world.pool).count();

    for (const rawBody of ['', '  \n']) {
      const post = await heroku(api, 'POST', '/heroku/resources', undefined, { rawBody });
      expect(post.status).toBe(400);
      expect(post.body.message).toBe('the request body must be a JSON object');
      const put = await heroku(api, 'PUT', `/heroku/resources/${id}`, undefined, { rawBody });
      expect(put.status).toBe(400);
      expect(put.body.message).toBe('the request body must be a JSON object');
    }
    // Heroku's vendor media type, with its parameter, is JSON too.
    const vendor = await fetch(`${api.url}/heroku/resources`, {
      method: 'POST',
      headers: {
        authorization: basicAuthHeader(ADDON_ID, 'partner-secret'),
        'content-type': 'application/vnd.heroku-addons+json; version=3',
      },
      body: '',
    });
    expect(vendor.status).toBe(400);
    expect(((await vendor.json()) as { message: string }).message).toContain('JSON object');
    expect(await new ResourceStore(world.pool).count()).toBe(before);
    expect((await resourceRow(world, id))?.plan).toBe('basic');

    // The bug as a new user met it: `curl -X DELETE -H 'Content-Type: application/json'` with no body.
    const gone = await heroku(api, 'DELETE', `/heroku/resources/${id}`, undefined, { rawBody: '' });
    expect(gone.status).toBe(204);
    expect((await resourceRow(world, id))?.state).toBe('deprovisioned');
    expect(
      (await heroku(api, 'DELETE', `/heroku/resources/${randomUUID()}`, undefined, { rawBody: '' })).status,
    ).toBe(204);

    // Routes outside the Partner API: never a 5xx for the header alone.
    for (const path of ['/console/login', '/dashboard/partner-access', '/sso/login']) {
      const res = await fetch(`${api.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '',
        redirect: 'manual',
      });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.status, path).toBeLessThan(500);
    }
  });

  it('refuses wrong or missing credentials with 401 on every Partner API route', async ({ world }) => {
    const body = provisionBody();
    const id = body.uuid as string;
    const bad = [
      basicAuthHeader(ADDON_ID, 'wrong-password'),
      basicAuthHeader('other-addon', 'partner-secret'),
      'Bearer partner-secret',
      null,
    ];
    for (const auth of bad) {
      expect((await heroku(api, 'POST', '/heroku/resources', body, { auth })).status).toBe(401);
      expect((await heroku(api, 'PUT', `/heroku/resources/${id}`, { plan: 'pro' }, { auth })).status).toBe(
        401,
      );
      expect((await heroku(api, 'DELETE', `/heroku/resources/${id}`, undefined, { auth })).status).toBe(401);
    }
    // Unauthenticated garbage is a 401 too, not a parse error.
    expect(
      (await heroku(api, 'POST', '/heroku/resources', undefined, { auth: null, rawBody: '{nope' })).status,
    ).toBe(401);
    expect(await resourceRow(world, id)).toBeUndefined();
  });

  it('answers 400 with a message to malformed bodies and writes nothing', async ({ world }) => {
    const before = await new ResourceStore(world.pool).count();
    const cases: { rawBody?: string; body?: unknown; says: string }[] = [
      { rawBody: '{"uuid": ', says: 'JSON' },
      { body: ['an', 'array'], says: 'JSON object' },
      { body: { plan: 'basic' }, says: 'uuid' },
      { body: { uuid: 'not-a-uuid', plan: 'basic' }, says: 'uuid' },
      { body: { uuid: randomUUID(), plan: 5 }, says: 'plan' },
      { body: { uuid: randomUUID(), plan: 'basic', options: 'x' }, says: 'options' },
      { body: { uuid: randomUUID(), plan: 'basic', oauth_grant: { code: 7 } }, says: 'oauth_grant' },
    ];
    for (const c of cases) {
      const res = await heroku(
        api,
        'POST',
        '/heroku/resources',
        c.body,
        c.rawBody ? { rawBody: c.rawBody } : {},
      );
      expect(res.status, JSON.stringify(c)).toBe(400);
      expect(res.body.message, JSON.stringify(c)).toEqual(expect.stringContaining(c.says));
    }
    const put = await heroku(api, 'PUT', `/heroku/resources/${randomUUID()}`, { plan: ['pro'] });
    expect(put.status).toBe(400);
    expect(put.body.message).toContain('plan');
    const putJson = await heroku(api, 'PUT', `/heroku/resources/${randomUUID()}`, undefined, {
      rawBody: 'plan=pro',
    });
    expect(putJson.status).toBe(400);
    expect(await new ResourceStore(world.pool).count()).toBe(before);
  });

  it('refuses an unknown plan, a hidden plan and an unsupported region with 422 and a reason', async ({
    world,
  }) => {
    const unknown = provisionBody({ plan: 'platinum' });
    const r1 = await heroku(api, 'POST', '/heroku/resources', unknown);
    expect(r1.status).toBe(422);
    expect(r1.body.message).toContain('"platinum"');
    // The refusal is kept (history, audit) and a repeat answers the same.
    expect(await resourceRow(world, unknown.uuid as string)).toMatchObject({ state: 'refused' });
    expect(await heroku(api, 'POST', '/heroku/resources', unknown)).toMatchObject({
      status: 422,
      body: r1.body,
    });
    expect((await events(world, unknown.uuid as string)).map((e) => e.kind)).toEqual(['provision_refused']);

    const hidden = await heroku(api, 'POST', '/heroku/resources', provisionBody({ plan: 'enterprise' }));
    expect(hidden.status).toBe(422);
    expect(hidden.body.message).toContain('not publicly available');

    const region = await heroku(
      api,
      'POST',
      '/heroku/resources',
      provisionBody({ region: 'amazon-web-services::ap-northeast-1' }),
    );
    expect(region.status).toBe(422);
    expect(region.body.message).toContain('ap-northeast-1');
  });

  it('syncs the user access list through the Platform API in sync mode too', async ({ world }) => {
    const body = provisionBody({
      plan: 'hobby',
      oauth_grant: { code: `grant-${randomUUID()}`, type: 'authorization_code' },
    });
    const id = body.uuid as string;
    fake.state.addApp({
      id: 'app-sync-1',
      name: 'acme-web',
      owner: { id: 'user-owner', email: 'owner@acme.test' },
      collaborators: [{ id: 'user-dev', email: 'dev@acme.test', role: 'collaborator' }],
    });
    fake.state.registerGrant((body.oauth_grant as { code: string }).code, {
      addonId: id,
      appId: 'app-sync-1',
      plan: 'hobby',
    });

    const res = await heroku(api, 'POST', '/heroku/resources', body);
    expect(res.status).toBe(200);
    const access = await eventually(
      async () => {
        const rows = (await new AccessStore(world.pool).get(id)).entries
          .map(({ email, role }) => ({ email, role }))
          .sort((a, b) => (a.email < b.email ? -1 : 1));
        return rows.length === 2 ? rows : undefined;
      },
      { what: 'the access list' },
    );
    expect(access).toEqual([
      { email: 'dev@acme.test', role: 'collaborator' },
      { email: 'owner@acme.test', role: 'owner' },
    ]);
    expect(await resourceRow(world, id)).toMatchObject({
      appId: 'app-sync-1',
      appName: 'acme-web',
      ownerEmail: 'owner@acme.test',
    });
    // Sync mode never marks anything on Heroku: it answered 200 already.
    expect(fake.state.requests).not.toContain(`POST /addons/${id}/actions/provision`);
  });
});
