/** The provider's console (ADR 0014): sign-in, people and permissions, clients with their partner
 * employees, resources, the audit log, API keys. Every query a page makes is scoped to the viewer. */
import {
  AccessRefusal,
  type Actor,
  type ConsoleSession,
  can,
  csrfMatches,
  isPermission,
  type Permission,
  scopeOf,
  type Viewer,
} from '@meterline/access';
import { listAlerts } from '@meterline/alerts';
import { listNotifications } from '@meterline/deliveries';
import type { Client } from '@meterline/resources';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientUsage } from '../client-usage.ts';
import { clientUsageSection } from '../console/client-usage.ts';
import {
  auditPage,
  clientPage,
  clientsPage,
  consolePage,
  type Flash,
  keysPage,
  peoplePage,
  resourcePage,
  secretPage,
  signInPage,
  signUpPage,
} from '../console/render.ts';
import type { ApiDeps } from '../deps.ts';
import { type Taken, tooManyRequests } from '../rate-limit.ts';
import { usageReport } from '../usage-report.ts';
import { advisorRoutes } from './advisor.ts';
import { healthRoutes } from './health.ts';
import { liveRoutes } from './live.ts';

export const CONSOLE_COOKIE = 'meterline_console';

/** Who is signed in, with their session and what they may see. */
export interface SignedIn {
  token: string;
  session: ConsoleSession;
  viewer: Viewer;
  actor: Actor;
}

/** The console session of the request's cookie, resolved to the viewer as they are now (a permission
 * removed a second ago is gone). */
export async function signedIn(deps: ApiDeps, request: FastifyRequest): Promise<SignedIn | null> {
  const token = request.cookies[CONSOLE_COOKIE];
  const session = await deps.consoleSessions.find(token, deps.now());
  if (!token || !session) return null;
  const viewer = await deps.team.viewer(session.accountId);
  if (!viewer) return null;
  return {
    token,
    session,
    viewer,
    actor: { accountId: viewer.accountId, email: viewer.email, ip: request.ip },
  };
}

type Body = Record<string, string | string[] | undefined>;

/** A signed-in console route's handler. */
type PageHandler = (
  s: SignedIn,
  request: FastifyRequest<{ Params: Record<string, string>; Body: Body }>,
  reply: FastifyReply,
) => Promise<unknown>;

/** What a group of console pages registered beside these (the plan advisor) is given. */
export interface ConsolePages {
  deps: ApiDeps;
  page: (path: string, handler: PageHandler, method?: 'GET' | 'POST') => void;
  needs: (s: SignedIn, reply: FastifyReply, permission: Permission) => boolean;
  view: (s: SignedIn, flash?: Flash | null) => { viewer: Viewer; csrf: string; flash: Flash | null };
  html: (reply: FastifyReply, status: number, page: string) => FastifyReply;
  field: (body: Body, name: string) => string;
}
const field = (body: Body, name: string) => {
  const v = body[name];
  return (Array.isArray(v) ? v[0] : v)?.trim() ?? '';
};
const list = (body: Body, name: string) => {
  const v = body[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

const html = (reply: FastifyReply, status: number, page: string) =>
  reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page);

export async function consoleRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const ttlMs = deps.config.consoleSessionTtlMinutes * 60_000;
  const reportDeps = {
    catalog: deps.catalog,
    counters: deps.counters,
    downgradeRule: deps.config.downgradeRule,
  };

  // A cross-site form may not post here: with an Origin header, it must be this host.
  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST') return;
    const origin = request.headers.origin;
    if (origin && origin !== 'null') {
      let host: string | null = null;
      try {
        host = new URL(origin).host;
      } catch {}
      if (host !== request.headers.host)
        return html(reply, 403, signInPage({ kind: 'error', text: 'Cross-site request refused.' }));
    }
  });

  /** Takes an attempt from the address's bucket and, for a sign-in, from the email's, before any password
   * is hashed (scrypt is the costly part); answers 429 when one is empty: the form's page to a browser,
   * JSON otherwise. Null: the attempt may go on. A sign-in that succeeds gives its tokens back. */
  function overLimit(
    request: FastifyRequest,
    reply: FastifyReply,
    email: string | null,
    page: (flash: Flash) => string,
  ) {
    const byIp = deps.limits.signInIp.take(request.ip);
    const byEmail: Taken = byIp.ok && email ? deps.limits.signInEmail.take(email) : { ok: true };
    const refusal = !byIp.ok
      ? { limit: 'sign_in_ip', wait: byIp.retryAfterSeconds, text: 'Too many attempts from this address.' }
      : !byEmail.ok
        ? {
            limit: 'sign_in_email',
            wait: byEmail.retryAfterSeconds,
            text: 'Too many attempts for this email.',
          }
        : null;
    if (!refusal) return null;
    deps.metrics.rateLimited.inc({ limit: refusal.limit });
    deps.log.warn({ limit: refusal.limit, retryAfterSeconds: refusal.wait }, 'console sign-in limited');
    if (request.headers.accept?.includes('text/html')) {
      reply.header('retry-after', String(refusal.wait));
      return html(
        reply,
        429,
        page({ kind: 'error', text: `${refusal.text} Try again in ${refusal.wait} s.` }),
      );
    }
    return tooManyRequests(reply, refusal.wait, refusal.text);
  }

  app.get('/console/login', async (_request, reply) => html(reply, 200, signInPage(null)));
  app.get('/console/signup', async (_request, reply) => html(reply, 200, signUpPage(null)));

  app.post<{ Body: Body }>('/console/login', async (request, reply) => {
    const body = request.body ?? {};
    const email = field(body, 'email').toLowerCase();
    const limited = overLimit(request, reply, email || null, signInPage);
    if (limited) return limited;
    const account = email ? await deps.team.checkPassword(email, field(body, 'password')) : null;
    const viewer = account ? await deps.team.viewer(account.id) : null;
    if (!account || !viewer) {
      await deps.audit.record({ accountId: null, email, ip: request.ip }, 'sign_in.refused', email);
      return html(
        reply,
        401,
        signInPage({ kind: 'error', text: 'That email and password do not match an account.' }),
      );
    }
    // The limits count what did not sign in: a person who knows their password never runs into them.
    deps.limits.signInIp.refund(request.ip);
    deps.limits.signInEmail.refund(email);
    const token = await deps.consoleSessions.open(account.id, deps.now(), ttlMs, {
      ip: request.ip,
      userAgent: request.headers['user-agent'] ?? null,
    });
    await deps.audit.record(
      { accountId: account.id, email: account.email, ip: request.ip },
      'sign_in',
      account.email,
    );
    reply.setCookie(CONSOLE_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'strict',
      secure: deps.config.cookieSecure ?? request.protocol === 'https',
      maxAge: Math.floor(ttlMs / 1000),
    });
    return reply.redirect('/console/clients', 303);
  });

  app.post<{ Body: Body }>('/console/signup', async (request, reply) => {
    const limited = overLimit(request, reply, null, signUpPage);
    if (limited) return limited;
    const body = request.body ?? {};
    try {
      const account = await deps.team.createAccount(
        { email: field(body, 'email'), name: field(body, 'name'), password: field(body, 'password') },
        null,
      );
      return html(
        reply,
        200,
        signInPage({ kind: 'ok', text: `Account created for ${account.email}: sign in.` }),
      );
    } catch (err) {
      if (err instanceof AccessRefusal)
        return html(reply, 400, signUpPage({ kind: 'error', text: err.message }));
      throw err;
    }
  });

  /** A signed-in route: GET pages show the login when there is no session; POST forms need the CSRF token. */
  function page(path: string, handler: PageHandler, method: 'GET' | 'POST' = 'GET') {
    app.route<{ Params: Record<string, string>; Body: Body }>({
      method,
      url: path,
      handler: async (request, reply) => {
        const s = await signedIn(deps, request);
        if (!s) {
          if (method === 'GET') return reply.redirect('/console/login', 303);
          return html(
            reply,
            401,
            signInPage({ kind: 'error', text: 'Your session has ended: sign in again.' }),
          );
        }
        if (method === 'POST' && !csrfMatches(s.session.csrf, request.body?._csrf))
          return html(
            reply,
            403,
            forbidden(
              s,
              'This form is out of date or came from another site: reload the page and try again.',
            ),
          );
        return handler(s, request, reply);
      },
    });
  }

  const view = (s: SignedIn, flash: Flash | null = null) => ({
    viewer: s.viewer,
    csrf: s.session.csrf,
    flash,
  });
  const forbidden = (s: SignedIn, text: string) =>
    consolePage(view(s, { kind: 'error', text }), 'Not allowed', '');
  /** Whether the viewer holds the permission; if not, the 403 page is sent (the handler returns the reply). */
  const needs = (s: SignedIn, reply: FastifyReply, permission: Permission) => {
    if (can(s.viewer, permission)) return true;
    void html(reply, 403, forbidden(s, `This needs the "${permission.replace('_', ' ')}" permission.`));
    return false;
  };

  page('/console', async (_s, _request, reply) => reply.redirect('/console/clients', 303));

  page(
    '/console/logout',
    async (s, _request, reply) => {
      await deps.consoleSessions.revoke(s.token);
      await deps.audit.record(s.actor, 'sign_out', s.viewer.email);
      reply.clearCookie(CONSOLE_COOKIE, { path: '/' });
      return html(reply, 200, signInPage({ kind: 'ok', text: 'You are signed out.' }));
    },
    'POST',
  );

  async function showClients(s: SignedIn, reply: FastifyReply, flash: Flash | null = null) {
    return html(reply, 200, clientsPage(view(s, flash), await deps.resources.clients(scopeOf(s.viewer))));
  }
  page('/console/clients', (s, _request, reply) => showClients(s, reply));

  /** The client if the viewer may see it; a partner employee asking for another client gets a 404. */
  async function visibleClient(s: SignedIn, id: string): Promise<Client | null> {
    return (await deps.resources.clients(scopeOf(s.viewer))).find((c) => c.id === id) ?? null;
  }
  const seesAssignments = (v: Viewer) => v.company?.superAdmin === true || can(v, 'clients');

  async function showClient(
    s: SignedIn,
    reply: FastifyReply,
    id: string,
    flash: Flash | null = null,
    status = 200,
  ) {
    const client = await visibleClient(s, id);
    if (!client)
      return html(
        reply,
        404,
        consolePage(view(s, { kind: 'error', text: 'There is no such client.' }), 'Not found', ''),
      );
    const [resources, assignments] = await Promise.all([
      deps.resources.ofClient(id, scopeOf(s.viewer)),
      seesAssignments(s.viewer) ? deps.team.assignmentsOf(id) : Promise.resolve(null),
    ]);
    const usage = clientUsageSection(await clientUsage(deps, resources));
    return html(reply, status, clientPage(view(s, flash), client, resources, assignments, usage));
  }
  page('/console/clients/:id', (s, request, reply) => showClient(s, reply, request.params.id ?? ''));

  page(
    '/console/clients/:id/unassign',
    async (s, request, reply) => {
      if (!seesAssignments(s.viewer))
        return html(reply, 403, forbidden(s, 'This needs the "clients" permission.'));
      const id = request.params.id ?? '';
      const client = await visibleClient(s, id);
      if (!client) return html(reply, 404, forbidden(s, 'There is no such client.'));
      const email = field(request.body, 'email');
      try {
        await deps.team.unassign(
          { email, client, confirmation: field(request.body, 'confirmation') },
          s.actor,
        );
        return showClient(s, reply, id, {
          kind: 'ok',
          text: `${email} no longer has access to ${client.name}.`,
        });
      } catch (err) {
        if (!(err instanceof AccessRefusal)) throw err;
        return showClient(s, reply, id, { kind: 'error', text: err.message }, 400);
      }
    },
    'POST',
  );

  page('/console/resources/:id', async (s, request, reply) => {
    const resource = await deps.resources.getVisible(request.params.id ?? '', scopeOf(s.viewer));
    if (!resource)
      return html(
        reply,
        404,
        consolePage(view(s, { kind: 'error', text: 'There is no such add-on.' }), 'Not found', ''),
      );
    const report = await usageReport(reportDeps, resource, deps.now());
    const [alerts, emails] = await Promise.all([
      listAlerts(deps.pool, resource.id, { periodKey: report.periodKey }),
      listNotifications(deps.pool, resource.id, report.periodStart),
    ]);
    return html(reply, 200, resourcePage(view(s), resource, report, alerts, emails));
  });

  // --- people

  async function showPeople(s: SignedIn, reply: FastifyReply, flash: Flash | null, status = 200) {
    const [company, partners, hidden] = await Promise.all([
      deps.team.companyUsers(),
      deps.team.partnerEmployees(),
      deps.team.hiddenInstalls(),
    ]);
    return html(reply, status, peoplePage(view(s, flash), { company, partners, hidden }));
  }
  page('/console/people', async (s, _request, reply) =>
    needs(s, reply, 'manage_users') ? showPeople(s, reply, null) : reply,
  );

  /** A people form: runs `change` and shows the page with what it did, or the refusal's message. */
  function peopleForm(path: string, change: (s: SignedIn, body: Body) => Promise<string>) {
    page(
      path,
      async (s, request, reply) => {
        if (!needs(s, reply, 'manage_users')) return reply;
        try {
          return showPeople(s, reply, { kind: 'ok', text: await change(s, request.body ?? {}) });
        } catch (err) {
          if (!(err instanceof AccessRefusal)) throw err;
          return showPeople(
            s,
            reply,
            { kind: 'error', text: err.message },
            err.code === 'no-account' ? 422 : 400,
          );
        }
      },
      'POST',
    );
  }
  const permissionsOf = (body: Body) => list(body, 'permissions').filter(isPermission);

  peopleForm('/console/people/company', async (s, body) => {
    const added = await deps.team.addCompanyUser(
      { email: field(body, 'email'), permissions: permissionsOf(body) },
      s.actor,
    );
    return `${added.email} is a company user now.`;
  });
  peopleForm('/console/people/company/permissions', async (s, body) => {
    await deps.team.setPermissions(field(body, 'email'), permissionsOf(body), s.actor);
    return `The permissions of ${field(body, 'email')} are saved.`;
  });
  peopleForm('/console/people/company/remove', async (s, body) => {
    if (field(body, 'email').toLowerCase() === s.viewer.email)
      throw new AccessRefusal('invalid', 'You cannot remove yourself: ask another company user.');
    await deps.team.removeCompanyUser(field(body, 'email'), s.actor);
    return `${field(body, 'email')} is no longer a company user. What they installed on hidden plans stays.`;
  });
  peopleForm('/console/people/partner', async (s, body) => {
    await deps.team.addPartnerEmployee(
      { email: field(body, 'email'), partner: field(body, 'partner') },
      s.actor,
    );
    return `${field(body, 'email')} is a partner employee of ${field(body, 'partner')} now.`;
  });
  peopleForm('/console/people/partner/remove', async (s, body) => {
    const revoked = await deps.team.removePartnerEmployee(
      { email: field(body, 'email'), partner: field(body, 'partner') },
      s.actor,
    );
    return `${field(body, 'email')} was removed from ${field(body, 'partner')}; their access to ${revoked} client(s) ended.`;
  });

  // Assigning needs the people or the clients permission: the form is on both pages.
  page(
    '/console/people/assign',
    async (s, request, reply) => {
      if (!can(s.viewer, 'manage_users') && !seesAssignments(s.viewer))
        return html(reply, 403, forbidden(s, 'This needs the "manage users" or the "clients" permission.'));
      const body = request.body ?? {};
      const wanted = field(body, 'clients')
        .split(/[\n,]/)
        .map((w) => w.trim())
        .filter(Boolean);
      const all = await deps.resources.clients({ all: true });
      const found = wanted.map((w) =>
        all.find((c) => c.id === w || c.name.toLowerCase() === w.toLowerCase()),
      );
      const unknown = wanted.filter((_, i) => !found[i]);
      const back = (flash: Flash, status = 200) =>
        wanted.length === 1 && found[0] && body._from === 'client'
          ? showClient(s, reply, found[0].id, flash, status)
          : showPeople(s, reply, flash, status);
      if (wanted.length === 0 || unknown.length > 0)
        return back(
          {
            kind: 'error',
            text: `No client is called ${unknown.join(', ') || '(none given)'}: give names or ids from the client list.`,
          },
          400,
        );
      try {
        const results = await deps.team.assign(
          { email: field(body, 'email'), partner: field(body, 'partner'), clients: found as Client[] },
          s.actor,
        );
        const refused = results.filter((r) => !r.ok);
        return back(
          refused.length > 0
            ? { kind: 'error', text: refused.map((r) => r.message).join(' ') }
            : {
                kind: 'ok',
                text: `${results.map((r) => r.message).join(' ')} Access starts once the client approves it.`,
              },
          refused.length > 0 ? 409 : 200,
        );
      } catch (err) {
        if (!(err instanceof AccessRefusal)) throw err;
        return back({ kind: 'error', text: err.message }, 400);
      }
    },
    'POST',
  );

  page('/console/audit', async (s, _request, reply) => {
    if (!needs(s, reply, 'manage_users')) return reply;
    return html(reply, 200, auditPage(view(s), await deps.audit.list({ limit: 500 })));
  });

  // --- API keys and the OAuth secret

  page('/console/keys', async (s, _request, reply) => {
    if (!needs(s, reply, 'api_keys')) return reply;
    return html(reply, 200, keysPage(view(s), await deps.apiKeys.list(), null));
  });
  page(
    '/console/keys',
    async (s, request, reply) => {
      if (!needs(s, reply, 'api_keys')) return reply;
      const made = await deps.apiKeys.create(field(request.body ?? {}, 'name'), ['usage:read'], s.actor);
      return html(
        reply,
        200,
        keysPage(view(s, { kind: 'ok', text: 'Key made.' }), await deps.apiKeys.list(), made.key),
      );
    },
    'POST',
  );
  page(
    '/console/keys/:id/revoke',
    async (s, request, reply) => {
      if (!needs(s, reply, 'api_keys')) return reply;
      const done = await deps.apiKeys.revoke(request.params.id ?? '', s.actor);
      const flash: Flash = done
        ? { kind: 'ok', text: 'Key revoked.' }
        : { kind: 'error', text: 'No such live key.' };
      return html(reply, done ? 200 : 404, keysPage(view(s, flash), await deps.apiKeys.list(), null));
    },
    'POST',
  );

  const secret = deps.config.oauthClientSecret;
  const masked = `${'•'.repeat(Math.max(4, secret.length - 4))}${secret.slice(-4)}`;
  page('/console/secret', async (s, _request, reply) => {
    if (!needs(s, reply, 'oauth_secret')) return reply;
    await deps.audit.record(s.actor, 'oauth_secret.view_masked', null);
    return html(reply, 200, secretPage(view(s), masked));
  });
  page(
    '/console/secret/reveal',
    async (s, _request, reply) => {
      if (!needs(s, reply, 'oauth_secret')) return reply;
      await deps.audit.record(s.actor, 'oauth_secret.reveal', null);
      return html(
        reply,
        200,
        secretPage(view(s, { kind: 'ok', text: 'Shown once; recorded in the audit log.' }), secret),
      );
    },
    'POST',
  );

  advisorRoutes({ deps, page, needs, view, html, field });
  healthRoutes({ deps, page, needs, view, html, field });
  liveRoutes(app, { deps, page, needs, view, html, field });
}
