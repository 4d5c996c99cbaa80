/** The customer's dashboard and the usage JSON: one report function feeds both. */

import { csrfMatches, type DashboardSession, scopeOf } from '@meterline/access';
import { listAlerts } from '@meterline/alerts';
import { listNotifications } from '@meterline/deliveries';
import { constantTimeEqual } from '@meterline/heroku';
import { UUID } from '@meterline/resources';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderDashboard, renderMessage } from '../dashboard/render.ts';
import type { ApiDeps } from '../deps.ts';
import { usageJson, usageReport } from '../usage-report.ts';
import { signedIn } from './console.ts';
import { SESSION_COOKIE } from './sso.ts';

/** Whether this person may allow partner employees into the client's space: the app's owner or an admin. */
function mayGrant(entries: { email: string; role: string }[], email: string): boolean {
  return entries.some(
    (e) => e.email.toLowerCase() === email.toLowerCase() && (e.role === 'owner' || e.role === 'admin'),
  );
}

/**
 * The request's dashboard session, while its person is still on the app's access list. The list is the
 * one the Platform API worker keeps (re-read from Heroku whenever older than ACCESS_MAX_AGE_SECONDS, at
 * most 5 minutes), read here on every request: someone removed from the app loses the dashboard within
 * that. A list never synced (no Platform API token yet) says nothing, and the session stands. A session
 * of the legacy sha1 token names no verified person to look up; it is short instead (sso.ts).
 */
async function session(deps: ApiDeps, request: FastifyRequest): Promise<DashboardSession | null> {
  const token = request.cookies[SESSION_COOKIE];
  const found = await deps.sessions.find(token, deps.now());
  if (!token || !found?.emailVerified) return found;
  const listed = await deps.access.lists(found.resourceId, { email: found.email, userId: found.userId });
  if (listed !== false) return found;
  await deps.sessions.close(token);
  deps.log.info({ resourceId: found.resourceId }, 'dashboard session ended: no longer on the access list');
  return null;
}

/** Whether this session's person may allow partner employees in: a verified app owner or admin. */
function viewerMayGrant(entries: { email: string; role: string }[], viewer: DashboardSession): boolean {
  return viewer.emailVerified && mayGrant(entries, viewer.email);
}

export async function dashboardRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const reportDeps = {
    catalog: deps.catalog,
    counters: deps.counters,
    downgradeRule: deps.config.downgradeRule,
  };

  // `/dashboard/:id` is the link in alert emails: it shows that resource to a session opened for it,
  // and otherwise asks the reader to come in through Heroku's SSO.
  app.get<{ Params: { id?: string } }>('/dashboard/:id', (request, reply) =>
    showDashboard(request, reply, request.params.id),
  );
  app.get('/dashboard', (request, reply) => showDashboard(request, reply));

  // The client's half of a partner employee's access: the app's owner or an admin allows it (or ends it).
  app.post<{ Body: Record<string, string | undefined> }>(
    '/dashboard/partner-access',
    async (request, reply) => {
      const viewer = await session(deps, request);
      const body = request.body ?? {};
      const page = (status: number, title: string, text: string) =>
        reply.code(status).type('text/html; charset=utf-8').send(renderMessage(title, text));
      if (!viewer)
        return page(401, 'Please sign in through Heroku', 'Open the add-on from your app on Heroku.');
      if (!viewer.csrf || !csrfMatches(viewer.csrf, body._csrf))
        return page(403, 'Refused', 'This form is out of date or came from another site: reload the page.');
      const resource = await deps.resources.get(viewer.resourceId);
      if (!resource?.ownerId)
        return page(404, 'Not found', 'This add-on has no client account on Heroku yet.');
      const { entries } = await deps.access.get(resource.id);
      if (!viewerMayGrant(entries, viewer))
        return page(403, 'Refused', "Only the app's owner or an admin can allow a partner employee in.");
      const email = (body.email ?? '').trim().toLowerCase();
      const assigned = (await deps.team.assignmentsOf(resource.ownerId)).some((a) => a.email === email);
      if (!assigned) return page(404, 'Not found', `${email} is not assigned to your account by a partner.`);
      if (body.action === 'revoke') await deps.team.revokeGrant(resource.ownerId, email, viewer.email);
      else await deps.team.grant(resource.ownerId, email, viewer.email);
      return reply.redirect('/dashboard', 303);
    },
  );

  async function showDashboard(request: FastifyRequest, reply: FastifyReply, wanted?: string) {
    const viewer = await session(deps, request);
    const page = (status: number, title: string, text: string) =>
      reply.code(status).type('text/html; charset=utf-8').send(renderMessage(title, text));
    if (!viewer || (wanted !== undefined && wanted !== viewer.resourceId))
      return page(
        401,
        'Please sign in through Heroku',
        'Open the add-on from your app on Heroku to see its usage.',
      );
    const resource = await deps.resources.get(viewer.resourceId);
    if (!resource || resource.state === 'deprovisioned' || resource.state === 'refused') {
      return page(
        404,
        'This add-on is gone',
        'The add-on was removed from the app; there is no usage to show.',
      );
    }
    const now = deps.now();
    const report = await usageReport(reportDeps, resource, now);
    const [alerts, emails, access, partners] = await Promise.all([
      listAlerts(deps.pool, resource.id, { periodKey: report.periodKey }),
      listNotifications(deps.pool, resource.id, report.periodStart),
      deps.access.get(resource.id),
      resource.ownerId ? deps.team.assignmentsOf(resource.ownerId) : Promise.resolve([]),
    ]);
    const html = renderDashboard({
      report,
      resourceName: resource.name,
      appName: resource.appName,
      viewer: { email: viewer.email, verified: viewer.emailVerified },
      alerts,
      emails,
      access,
      partnerAccess: {
        assignments: partners,
        mayGrant: viewerMayGrant(access.entries, viewer),
        csrf: viewer.csrf ?? '',
      },
    });
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  }

  // Machines: API_TOKEN or an API key with usage:read. People: their SSO session (its own resource) or
  // their console session (the resources their scope may see: another client's is not found).
  app.get<{ Params: { id: string } }>('/api/v1/resources/:id/usage', async (request, reply) => {
    const { id } = request.params;
    const header = request.headers.authorization;
    const notFound = () => reply.code(404).send({ message: `There is no add-on resource ${id}.` });
    if (header !== undefined) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
      const valid =
        bearer !== undefined &&
        (constantTimeEqual(bearer, deps.config.apiToken) ||
          (await deps.apiKeys.verify(bearer, 'usage:read')) !== null);
      if (!valid) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send({ message: 'The bearer token is not valid (a revoked key, or one without usage:read).' });
      }
    } else {
      const person = await signedIn(deps, request);
      const viewer = person ? null : await session(deps, request);
      if (person) {
        if (!(await deps.resources.getVisible(id.toLowerCase(), scopeOf(person.viewer)))) return notFound();
      } else if (!viewer) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({
          message:
            'Send Authorization: Bearer <API_TOKEN or API key>, or sign in through Heroku SSO or the console.',
        });
      } else if (viewer.resourceId !== id.toLowerCase()) {
        return reply.code(403).send({ message: 'This session may read only its own add-on resource.' });
      }
    }
    const resource = UUID.test(id) ? await deps.resources.get(id.toLowerCase()) : null;
    if (!resource || resource.state === 'refused') return notFound();
    return reply
      .header('cache-control', 'no-store')
      .send(usageJson(await usageReport(reportDeps, resource, deps.now())));
  });
}
