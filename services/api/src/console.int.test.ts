import { ALL_PERMISSIONS, CONFLICT_MESSAGE, NO_ACCOUNT_MESSAGE, TeamAccess } from '@meterline/access';
import { ssoLoginFields } from '@meterline/heroku';
import { AccessStore } from '@meterline/resources';
import { seedResources } from '@meterline/resources/fixtures';
import { worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { CONSOLE_COOKIE } from './routes/console.ts';
import { CONSOLE_PASSWORD, OAUTH_SECRET, SSO_SALT, startTestApi, testClock } from './testkit.ts';
import type { RunningApi } from './wire.ts';

const NOV_20 = Date.UTC(2026, 10, 20, 12);
const PASSWORD = CONSOLE_PASSWORD;

/** One person's browser: a cookie jar, and the CSRF token of the last page it saw. */
function browserOf(api: RunningApi) {
  const cookies = new Map<string, string>();
  let csrf = '';
  async function call(method: string, path: string, form?: Record<string, string | string[]>, headers = {}) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(form ?? {}))
      for (const one of Array.isArray(v) ? v : [v]) body.append(k, one);
    const res = await fetch(`${api.url}${path}`, {
      method,
      redirect: 'manual',
      headers: {
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...headers,
      },
      body: form ? body.toString() : undefined,
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [k, v] = pair!.split('=');
      if (v) cookies.set(k!, v);
      else cookies.delete(k!);
    }
    const text = await res.text();
    csrf = /name="_csrf" value="([^"]+)"/.exec(text)?.[1] ?? csrf;
    return { status: res.status, text, location: res.headers.get('location'), res };
  }
  return {
    cookies,
    get: (path: string) => call('GET', path),
    /** A form post carrying the session's CSRF token, as the console's own forms do. */
    post: (path: string, form: Record<string, string | string[]> = {}, headers = {}) =>
      call('POST', path, { _csrf: csrf, ...form }, headers),
    raw: call,
    async signIn(email: string, password = PASSWORD) {
      const res = await call('POST', '/console/login', { email, password });
      if (res.status === 303) await call('GET', '/console/clients');
      return res;
    },
  };
}

const it = worldTest('apiconsole');

describe('the console: people, permissions, partner employees scoped to clients', () => {
  let api: RunningApi;
  let team: TeamAccess;
  const clock = testClock(NOV_20);
  const ACME = 'team-acme';
  const BETA = 'team-beta';
  let acme1: string;
  let acme2: string;
  let beta1: string;
  const script = { accountId: null, email: 'test setup', ip: null };

  it.beforeAll(async ({ world }) => {
    api = await startTestApi(
      world,
      { PROVISIONING_MODE: 'sync', CONSOLE_SESSION_TTL_MINUTES: '30' },
      clock.now,
    );
    team = new TeamAccess(world.pool);
    const ids = await seedResources(world.pool, [
      { name: 'acme-meter', appName: 'acme-api', ownerId: ACME, ownerEmail: 'boss@acme.test' },
      { name: 'acme-meter-2', appName: 'acme-web', ownerId: ACME, ownerEmail: 'boss@acme.test' },
      { name: 'beta-meter', appName: 'beta-api', ownerId: BETA, ownerEmail: 'boss@beta.test' },
    ]);
    [acme1, acme2, beta1] = ids as [string, string, string];
    await new AccessStore(world.pool).replace(
      acme1,
      [
        { email: 'boss@acme.test', userId: 'u-boss', role: 'owner' },
        { email: 'dev@acme.test', userId: 'u-dev', role: 'member' },
      ],
      clock.now(),
    );
    // The first super admin, as `pnpm console:admin` makes them.
    await team.createAccount({ email: 'admin@provider.test', name: 'Ada Admin', password: PASSWORD }, script);
    await team.addCompanyUser(
      { email: 'admin@provider.test', permissions: ALL_PERMISSIONS, superAdmin: true },
      script,
    );
  });
  it.afterAll(async () => {
    await api?.stop();
  });

  it('signs in with a short, HttpOnly, SameSite=Strict session; a wrong password is refused and audited', async () => {
    const admin = browserOf(api);
    const wrong = await admin.raw('POST', '/console/login', {
      email: 'admin@provider.test',
      password: 'nope',
    });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('do not match an account');
    const good = await admin.raw('POST', '/console/login', {
      email: 'Admin@Provider.test',
      password: PASSWORD,
    });
    expect(good.status).toBe(303);
    const cookie = good.res.headers.getSetCookie().find((c) => c.startsWith(`${CONSOLE_COOKIE}=`))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    expect(cookie).toMatch(/Max-Age=1800/);
    const audit = await admin.get('/console/audit');
    expect(audit.status).toBe(200);
    expect(audit.text).toContain('data-action="sign_in.refused"');
    expect(audit.text).toContain('data-action="sign_in"');
  });

  it("adds a company user only when the email has an account, with the page's message otherwise", async () => {
    const admin = browserOf(api);
    await admin.signIn('admin@provider.test');
    const missing = await admin.post('/console/people/company', {
      email: 'carol@provider.test',
      permissions: ['support'],
    });
    expect(missing.status).toBe(422);
    expect(missing.text).toContain(NO_ACCOUNT_MESSAGE('carol@provider.test').replaceAll("'", '&#39;'));

    const carol = browserOf(api);
    const signup = await carol.raw('POST', '/console/signup', {
      email: 'carol@provider.test',
      name: 'Carol',
      password: PASSWORD,
    });
    expect(signup.status).toBe(200);
    // An account alone grants nothing.
    await carol.signIn('carol@provider.test');
    expect((await carol.get('/console/clients')).text).not.toContain(`data-client="${ACME}"`);

    const added = await admin.post('/console/people/company', {
      email: 'carol@provider.test',
      permissions: ['support', 'billing'],
    });
    expect(added.status).toBe(200);
    expect(added.text).toContain('carol@provider.test is a company user now.');

    // Carol sees every client, but people and keys need permissions she lacks.
    const clients = await carol.get('/console/clients');
    expect(clients.text).toContain(`data-client="${ACME}"`);
    expect(clients.text).toContain(`data-client="${BETA}"`);
    expect((await carol.get('/console/people')).status).toBe(403);
    expect((await carol.get('/console/keys')).status).toBe(403);
    expect((await carol.get('/console/secret')).status).toBe(403);
    // Nor does she see each client's partner employees without the clients permission.
    expect((await carol.get(`/console/clients/${ACME}`)).text).not.toContain('id="partner-employees"');

    // A permission given takes effect on her next request.
    await admin.post('/console/people/company/permissions', {
      email: 'carol@provider.test',
      permissions: ['support', 'manage_users'],
    });
    expect((await carol.get('/console/people')).status).toBe(200);
  });

  it("refuses a form without the session's CSRF token, and one posted from another site", async () => {
    const admin = browserOf(api);
    await admin.signIn('admin@provider.test');
    const noToken = await admin.raw('POST', '/console/people/company', { email: 'x@provider.test' });
    expect(noToken.status).toBe(403);
    const wrongToken = await admin.raw('POST', '/console/people/company', {
      _csrf: 'guessed',
      email: 'x@provider.test',
    });
    expect(wrongToken.status).toBe(403);
    const crossSite = await admin.post(
      '/console/people/company',
      { email: 'x@provider.test' },
      { origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    expect(crossSite.text).toContain('Cross-site request refused');
  });

  it('a partner employee sees a client only once both halves exist, and only that client', async () => {
    const admin = browserOf(api);
    await admin.signIn('admin@provider.test');
    await team.createAccount({ email: 'pete@northwind.test', name: 'Pete', password: PASSWORD }, script);
    expect(
      (await admin.post('/console/people/partner', { email: 'pete@northwind.test', partner: 'Northwind' }))
        .status,
    ).toBe(200);
    // Bulk, by name and by id; an unknown name refuses the whole form.
    const unknown = await admin.post('/console/people/assign', {
      email: 'pete@northwind.test',
      partner: 'Northwind',
      clients: 'boss@acme.test\nno-such-client',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain('No client is called no-such-client');
    const assigned = await admin.post('/console/people/assign', {
      email: 'pete@northwind.test',
      partner: 'Northwind',
      clients: 'boss@acme.test',
    });
    expect(assigned.status).toBe(200);
    expect(assigned.text).toContain('Access starts once the client approves it.');
    const clientPage = await admin.get(`/console/clients/${ACME}`);
    expect(clientPage.text).toContain('pending client approval');

    // The partner half alone: Pete sees nothing, and the usage JSON answers 404.
    const pete = browserOf(api);
    expect((await pete.signIn('pete@northwind.test')).status).toBe(303);
    expect((await pete.get('/console/clients')).text).not.toContain(`data-client="${ACME}"`);
    expect((await pete.get(`/api/v1/resources/${acme1}/usage`)).status).toBe(404);

    // The client half: the app's owner allows it on the dashboard; a member may not.
    async function dashboardAs(email: string) {
      const customer = browserOf(api);
      clock.set(clock.now() + 1000);
      const fields = ssoLoginFields({
        resourceId: acme1,
        salt: SSO_SALT,
        email,
        userId: `u-${email}`,
        timestamp: Math.floor(clock.now() / 1000),
        app: 'acme-api',
        navData: 'nav',
      });
      expect((await customer.raw('POST', '/sso/login', fields)).status).toBe(303);
      const page = await customer.get('/dashboard');
      expect(page.text).toContain('pete@northwind.test');
      return customer;
    }
    const member = await dashboardAs('dev@acme.test');
    expect(
      (await member.post('/dashboard/partner-access', { email: 'pete@northwind.test', action: 'grant' }))
        .status,
    ).toBe(403);
    const owner = await dashboardAs('boss@acme.test');
    expect(
      (await owner.raw('POST', '/dashboard/partner-access', { email: 'pete@northwind.test', _csrf: 'x' }))
        .status,
    ).toBe(403);
    expect(
      (await owner.post('/dashboard/partner-access', { email: 'pete@northwind.test', action: 'grant' }))
        .status,
    ).toBe(303);
    expect((await admin.get(`/console/clients/${ACME}`)).text).toContain(
      '<span class="status active">active',
    );

    // Both halves: Acme and its resources, nothing of Beta (404s, not an empty page).
    const clients = await pete.get('/console/clients');
    expect(clients.text).toContain(`data-client="${ACME}"`);
    expect(clients.text).not.toContain(`data-client="${BETA}"`);
    const acmePage = await pete.get(`/console/clients/${ACME}`);
    expect(acmePage.status).toBe(200);
    expect(acmePage.text).toContain(`data-resource="${acme1}"`);
    expect(acmePage.text).toContain(`data-resource="${acme2}"`);
    expect(acmePage.text).not.toContain('id="partner-employees"');
    expect((await pete.get(`/console/clients/${BETA}`)).status).toBe(404);
    expect((await pete.get(`/console/resources/${acme1}`)).status).toBe(200);
    expect((await pete.get(`/console/resources/${beta1}`)).status).toBe(404);
    expect((await pete.get(`/api/v1/resources/${acme1}/usage`)).status).toBe(200);
    expect((await pete.get(`/api/v1/resources/${beta1}/usage`)).status).toBe(404);
    expect((await pete.get('/console/people')).status).toBe(403);
  });

  it('one email, one partner record per client: the second answers the conflict and its three ways out', async () => {
    const admin = browserOf(api);
    await admin.signIn('admin@provider.test');
    await admin.post('/console/people/partner', { email: 'pete@northwind.test', partner: 'Contoso' });
    const conflict = await admin.post('/console/people/assign', {
      email: 'pete@northwind.test',
      partner: 'Contoso',
      clients: `${ACME}\n${BETA}`,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.text).toContain(CONFLICT_MESSAGE('pete@northwind.test', 'boss@acme.test'));
    // Beta had no other record, so it went through (per client, in bulk).
    expect((await admin.get(`/console/clients/${BETA}`)).text).toContain('data-email="pete@northwind.test"');
    await admin.post('/console/people/partner/remove', { email: 'pete@northwind.test', partner: 'Contoso' });
    expect((await admin.get(`/console/clients/${BETA}`)).text).not.toContain(
      'data-email="pete@northwind.test"',
    );
  });

  it("removes a partner employee from one client only with the client's name typed, and from the partner at once", async () => {
    const admin = browserOf(api);
    await admin.signIn('admin@provider.test');
    const pete = browserOf(api);
    await pete.signIn('pete@northwind.test');
    expect((await pete.get(`/console/clients/${ACME}`)).status).toBe(200);

    const unconfirmed = await admin.post(`/console/clients/${ACME}/unassign`, {
      email: 'pete@northwind.test',
      confirmation: 'acme',
    });
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.text).toContain('Type the client&#39;s name (boss@acme.test)');
    expect((await pete.get(`/console/clients/${ACME}`)).status).toBe(200);
    const removed = await admin.post(`/console/clients/${ACME}/unassign`, {
      email: 'pete@northwind.test',
      confirmation: 'boss@acme.test',
    });
    expect(removed.status).toBe(200);
    expect((await pete.get(`/console/clients/${ACME}`)).status).toBe(404);
    expect((await pete.get(`/api/v1/resources/${acme1}/usage`)).status).toBe(404);

    // Assigned again to both; both clients grant; then removal from the partner ends both at once.
    await admin.post('/console/people/assign', {
      email: 'pete@northwind.test',
      partner: 'Northwind',
      clients: `${ACME}, ${BETA}`,
    });
    await team.grant(ACME, 'pete@northwind.test', 'boss@acme.test');
    await team.grant(BETA, 'pete@northwind.test', 'boss@beta.test');
    expect((await pete.get(`/console/clients/${BETA}`)).status).toBe(200);
    const gone = await admin.post('/console/people/partner/remove', {
      email: 'pete@northwind.test',
      partner: 'Northwind',
    });
    expect(gone.text).toContain('their access to 2 client(s) ended');
    // Their session ended too: the next request signs in again.
    expect((await pete.get('/console/clients')).location).toBe('/console/login');
    await pete.signIn('pete@northwind.test');
    const after = await pete.get('/console/clients');
    expect(after.text).not.toContain(`data-client="${ACME}"`);
    expect(after.text).not.toContain(`data-client="${BETA}"`);
    const audit = await admin.get('/console/audit');
    for (const action of [
      'assignment.add',
      'assignment.conflict',
      'assignment.remove',
      'partner_employee.remove',
    ])
      expect(audit.text).toContain(`data-action="${action}"`);
  });

  it('ends sessions on logout, on expiry, and when a company user is removed', async () => {
    const admin = browserOf(api);
    await admin.signIn('admin@provider.test');
    const carol = browserOf(api);
    await carol.signIn('carol@provider.test');
    expect((await carol.get('/console/clients')).status).toBe(200);
    await admin.post('/console/people/company/remove', { email: 'carol@provider.test' });
    expect((await carol.get('/console/clients')).location).toBe('/console/login');
    // Removing oneself is refused.
    expect(
      (await admin.post('/console/people/company/remove', { email: 'admin@provider.test' })).status,
    ).toBe(400);

    const saved = new Map(admin.cookies);
    expect((await admin.post('/console/logout')).status).toBe(200);
    for (const [k, v] of saved) admin.cookies.set(k, v);
    expect((await admin.get('/console/clients')).location).toBe('/console/login');

    await admin.signIn('admin@provider.test');
    expect((await admin.get('/console/clients')).status).toBe(200);
    clock.set(clock.now() + 31 * 60_000);
    expect((await admin.get('/console/clients')).location).toBe('/console/login');
  });

  it('API keys: shown once, scoped to usage:read, last use recorded, revoked at once', async () => {
    const admin = browserOf(api);
    await admin.signIn('admin@provider.test');
    const made = await admin.post('/console/keys', { name: 'grafana' });
    const key = /(mlk_[A-Za-z0-9_-]+)/.exec(made.text)?.[1];
    expect(key).toBeDefined();
    const read = await fetch(`${api.url}/api/v1/resources/${beta1}/usage`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(read.status).toBe(200);
    const listed = await admin.get('/console/keys');
    expect(listed.text).not.toContain(key);
    expect(listed.text).not.toMatch(/<td>never<\/td>/);
    const id = /data-key="([^"]+)"/.exec(listed.text)![1]!;
    expect((await admin.post(`/console/keys/${id}/revoke`)).status).toBe(200);
    const refused = await fetch(`${api.url}/api/v1/resources/${beta1}/usage`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(refused.status).toBe(401);
  });

  it('shows the OAuth secret masked; revealing it is audited', async () => {
    const admin = browserOf(api);
    await admin.signIn('admin@provider.test');
    const masked = await admin.get('/console/secret');
    expect(masked.text).not.toContain(OAUTH_SECRET);
    expect(masked.text).toContain(OAUTH_SECRET.slice(-4));
    const shown = await admin.post('/console/secret/reveal');
    expect(shown.text).toContain(OAUTH_SECRET);
    const audit = await admin.get('/console/audit');
    expect(audit.text).toContain('data-action="oauth_secret.reveal"');
    expect(audit.text).toContain('data-action="oauth_secret.view_masked"');
  });
});
