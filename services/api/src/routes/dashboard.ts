/** The customer's dashboard and the usage JSON: one report function feeds both. */

import type { DashboardSession } from '@meterline/access';
import { listAlerts } from '@meterline/alerts';
import { listNotifications } from '@meterline/deliveries';
import { constantTimeEqual } from '@meterline/heroku';
import { UUID } from '@meterline/resources';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { renderDashboard, renderMessage } from '../dashboard/render.ts';
import type { ApiDeps } from '../deps.ts';
import { usageJson, usageReport } from '../usage-report.ts';
import { SESSION_COOKIE } from './sso.ts';

function session(deps: ApiDeps, request: FastifyRequest): Promise<DashboardSession | null> {
  return deps.sessions.find(request.cookies[SESSION_COOKIE], deps.now());
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
    const [alerts, emails, access] = await Promise.all([
      listAlerts(deps.pool, resource.id, { periodKey: report.periodKey }),
      listNotifications(deps.pool, resource.id, report.periodStart),
      deps.access.get(resource.id),
    ]);
    const html = renderDashboard({
      report,
      resourceName: resource.name,
      appName: resource.appName,
      viewer: { email: viewer.email, verified: viewer.emailVerified },
      alerts,
      emails,
      access,
    });
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
  }

  app.get<{ Params: { id: string } }>('/api/v1/resources/:id/usage', async (request, reply) => {
    const { id } = request.params;
    const header = request.headers.authorization;
    if (header !== undefined) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
      if (!bearer || !constantTimeEqual(bearer, deps.config.apiToken)) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send({ message: 'The bearer token is not valid.' });
      }
    } else {
      const viewer = await session(deps, request);
      if (!viewer) {
        return reply
          .code(401)
          .header('www-authenticate', 'Bearer')
          .send({ message: 'Send Authorization: Bearer <API_TOKEN>, or sign in through Heroku SSO.' });
      }
      if (viewer.resourceId !== id.toLowerCase()) {
        return reply.code(403).send({ message: 'This session may read only its own add-on resource.' });
      }
    }
    const resource = UUID.test(id) ? await deps.resources.get(id.toLowerCase()) : null;
    if (!resource || resource.state === 'refused') {
      return reply.code(404).send({ message: `There is no add-on resource ${id}.` });
    }
    return reply
      .header('cache-control', 'no-store')
      .send(usageJson(await usageReport(reportDeps, resource, deps.now())));
  });
}
