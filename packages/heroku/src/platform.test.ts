import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakePlatform, startFakePlatform } from './fake/index.ts';
import {
  accessListFromPlatform,
  createPlatformClient,
  type HerokuPlatform,
  type OAuthTokens,
  PlatformApiError,
  withAccessToken,
} from './platform.ts';

const clientSecret = 'test-client-secret';
let fake: FakePlatform;
let platform: HerokuPlatform;
let seq = 0;

beforeAll(async () => {
  fake = await startFakePlatform({ port: 0, clientSecret });
  platform = createPlatformClient({ apiUrl: fake.url, idUrl: fake.idUrl, clientSecret });
});
afterAll(() => fake.close());

// Each test gets its own app and add-on so tests do not depend on each other.
let appId: string;
let addonId: string;
let code: string;
beforeEach(() => {
  seq += 1;
  appId = `app-${seq}`;
  addonId = `7e5d8a3c-1f0b-4c1e-9d55-${String(seq).padStart(12, '0')}`;
  code = `grant-${seq}`;
  fake.state.addApp({
    id: appId,
    name: `acme-api-${seq}`,
    owner: { id: 'user-owner', email: 'owner@acme.com' },
    collaborators: [{ email: 'dev@acme.com' }, { email: 'Owner@Acme.com' }],
  });
  fake.state.registerGrant(code, { addonId, appId });
});

async function expectPlatformError(promise: Promise<unknown>, status: number | null, retryable: boolean) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PlatformApiError);
  expect(err).toMatchObject({ status, retryable });
  return err as PlatformApiError;
}

describe('platform client against the fake', () => {
  it('runs the async provisioning flow: grant exchange, config, mark provisioned', async () => {
    const tokens = await platform.exchangeGrant(code);
    expect(tokens.accessToken).toMatch(/^fake-access-/);
    expect(tokens.expiresIn).toBe(28_800);
    expect(tokens.expiresAt).toBeGreaterThan(Date.now() + 28_000_000);

    const addon = await platform.getAddon(tokens.accessToken, addonId);
    expect(addon).toMatchObject({ id: addonId, state: 'provisioning', app: { id: appId } });

    const config = await platform.updateAddonConfig(tokens.accessToken, addonId, {
      METERLINE_URL: 'https://meterline.example/r/1',
      METERLINE_KEY: 'k1',
    });
    expect(config).toContainEqual({ name: 'METERLINE_URL', value: 'https://meterline.example/r/1' });
    await platform.updateAddonConfig(tokens.accessToken, addonId, { METERLINE_KEY: null });
    expect(fake.state.configOf(addonId)).toEqual({ METERLINE_URL: 'https://meterline.example/r/1' });

    const provisioned = await platform.markProvisioned(tokens.accessToken, addonId);
    expect(provisioned.state).toBe('provisioned');
    expect(fake.state.stateOf(addonId)).toBe('provisioned');
  });

  it('refuses a grant code twice, an unknown code and a wrong client secret with non-retryable 401s', async () => {
    await platform.exchangeGrant(code);
    await expectPlatformError(platform.exchangeGrant(code), 401, false);
    await expectPlatformError(platform.exchangeGrant('no-such-code'), 401, false);
    fake.state.registerGrant('another', { addonId, appId });
    const wrongSecret = createPlatformClient({ apiUrl: fake.url, idUrl: fake.idUrl, clientSecret: 'nope' });
    await expectPlatformError(wrongSecret.exchangeGrant('another'), 401, false);
  });

  it('gets 401 for a bad token and 403 for another resource', async () => {
    const err = await expectPlatformError(platform.getAddon('not-a-token', addonId), 401, false);
    expect(err.herokuId).toBe('unauthorized');
    const tokens = await platform.exchangeGrant(code);
    await expectPlatformError(platform.getAddon(tokens.accessToken, 'someone-elses-addon'), 403, false);
  });

  it('refreshes an expired token: the old one gets 401, the refreshed one works', async () => {
    const tokens = await platform.exchangeGrant(code);
    fake.state.expireAccessTokens();
    await expectPlatformError(platform.getAddon(tokens.accessToken, addonId), 401, false);
    const fresh = await platform.refreshTokens(tokens.refreshToken);
    expect(fresh.accessToken).not.toBe(tokens.accessToken);
    expect((await platform.getAddon(fresh.accessToken, addonId)).id).toBe(addonId);
  });

  it('withAccessToken refreshes ahead of expiry and on a 401, persisting every new token set', async () => {
    const tokens = await platform.exchangeGrant(code);
    const persisted: OAuthTokens[] = [];
    const persist = async (t: OAuthTokens) => {
      persisted.push(t);
    };

    // Still valid by the fake's clock but about to expire by ours: refreshed first.
    const nearExpiry = { ...tokens, expiresAt: Date.now() + 1_000 };
    const addon = await withAccessToken(platform, nearExpiry, persist, (t) => platform.getAddon(t, addonId));
    expect(addon.id).toBe(addonId);
    expect(persisted).toHaveLength(1);

    // Believed valid but expired at Heroku: the 401 triggers one refresh and a retry.
    fake.state.expireAccessTokens();
    const latest = persisted[0]!;
    const again = await withAccessToken(platform, latest, persist, (t) => platform.getAddon(t, addonId));
    expect(again.id).toBe(addonId);
    expect(persisted).toHaveLength(2);
    expect(persisted[1]!.accessToken).not.toBe(latest.accessToken);
  });

  it('marks 5xx and network failures retryable', async () => {
    const tokens = await platform.exchangeGrant(code);
    fake.state.failNext(1, 503);
    await expectPlatformError(platform.getAddon(tokens.accessToken, addonId), 503, true);
    expect((await platform.getAddon(tokens.accessToken, addonId)).id).toBe(addonId);

    const unreachable = createPlatformClient({
      apiUrl: 'http://127.0.0.1:1',
      idUrl: 'http://127.0.0.1:1',
      clientSecret,
    });
    await expectPlatformError(unreachable.getAddon(tokens.accessToken, addonId), null, true);
  });

  it('sends the version-3 Accept header (the fake refuses others)', async () => {
    const tokens = await platform.exchangeGrant(code);
    const res = await fetch(`${fake.url}/addons/${addonId}`, {
      headers: { Authorization: `Bearer ${tokens.accessToken}`, Accept: 'application/json' },
    });
    expect(res.status).toBe(400);
  });

  it('refuses an async provision by marking it deprovisioned, after which the token stops working', async () => {
    const tokens = await platform.exchangeGrant(code);
    const addon = await platform.markDeprovisioned(tokens.accessToken, addonId);
    expect(addon.state).toBe('deprovisioned');
    await expectPlatformError(platform.getAddon(tokens.accessToken, addonId), 401, false);
    await expectPlatformError(platform.refreshTokens(tokens.refreshToken), 401, false);
  });

  it('builds the access list of a personal app', async () => {
    const tokens = await platform.exchangeGrant(code);
    const before = fake.state.requests.length;
    expect(await platform.accessList(tokens.accessToken, addonId)).toEqual([
      { email: 'owner@acme.com', userId: 'user-owner', role: 'owner' },
      { email: 'dev@acme.com', userId: 'user-dev@acme.com', role: 'collaborator' },
    ]);
    const made = fake.state.requests.slice(before);
    expect(made).toEqual(
      expect.arrayContaining([
        `GET /addons/${addonId}`,
        `GET /apps/${appId}`,
        `GET /apps/${appId}/collaborators`,
      ]),
    );
    expect(made.some((r) => r.includes('/teams/'))).toBe(false);
  });

  it('builds the access list of a team app from collaborators and team members', async () => {
    const teamAppId = `team-app-${seq}`;
    const teamAddonId = `team-addon-${seq}`;
    fake.state.addApp({
      id: teamAppId,
      name: `team-app-${seq}`,
      owner: { id: 'team-pseudo', email: 'acme@herokumanager.com' },
      collaborators: [{ email: 'contractor@ext.com', role: 'member' }, { email: 'acme@herokumanager.com' }],
      team: {
        name: 'acme',
        members: [
          { email: 'lead@acme.com', role: 'admin' },
          { email: 'dev@acme.com', role: 'member' },
          { email: 'ro@acme.com', role: 'viewer' },
          { email: 'outsider@ext.com', role: 'collaborator' },
          { email: 'CONTRACTOR@ext.com', role: 'admin' },
        ],
      },
    });
    fake.state.registerGrant(`team-${code}`, { addonId: teamAddonId, appId: teamAppId });
    const tokens = await platform.exchangeGrant(`team-${code}`);
    const list = await platform.accessList(tokens.accessToken, teamAddonId);
    expect(list).toEqual([
      { email: 'contractor@ext.com', userId: 'user-contractor@ext.com', role: 'admin' },
      { email: 'lead@acme.com', userId: 'user-lead@acme.com', role: 'admin' },
      { email: 'dev@acme.com', userId: 'user-dev@acme.com', role: 'member' },
      { email: 'ro@acme.com', userId: 'user-ro@acme.com', role: 'viewer' },
    ]);
    expect(fake.state.requests).toContain('GET /teams/team-acme/members');
  });
});

describe('accessListFromPlatform', () => {
  it('keeps the strongest role per email and fills a missing user id', () => {
    const app = {
      id: 'a',
      name: 'a',
      owner: { id: 'u1', email: 'boss@x.com' },
      team: { id: 't', name: 't' },
    };
    const list = accessListFromPlatform(
      app,
      [{ id: 'c1', role: 'viewer', user: { id: 'u2', email: 'Pat@x.com' }, permissions: ['view'] }],
      [
        { id: 'm1', email: 'pat@x.com', role: 'member', userId: null },
        { id: 'm2', email: 'boss@x.com', role: 'admin', userId: null },
        { id: 'm3', email: 'new@x.com', role: null, userId: null },
      ],
    );
    expect(list).toEqual([
      { email: 'boss@x.com', userId: 'u1', role: 'owner' },
      { email: 'new@x.com', userId: null, role: 'member' },
      { email: 'Pat@x.com', userId: 'u2', role: 'member' },
    ]);
  });
});
