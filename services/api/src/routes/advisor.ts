/** The console's plan advisor (ADR 0016): back-test a proposed catalog on the ledger, and act on its
 * abuse signals. Company users only: viewing needs "billing", disabling an add-on needs "support". */
import { readFileSync } from 'node:fs';
import { can } from '@meterline/access';
import { backtest, compareWithRecorded } from '@meterline/advisor';
import { recordedAlerts } from '@meterline/alerts';
import { PlatformApiError, withAccessToken } from '@meterline/heroku';
import { UUID } from '@meterline/resources';
import { type PlanCatalog, PlanCatalogError, parsePlanCatalog, periodOf } from '@meterline/rules';
import type { FastifyReply } from 'fastify';
import { type AdvisorForm, advisorPage } from '../console/advisor.ts';
import { consolePage } from '../console/render.ts';
import type { ConsolePages } from './console.ts';

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const monthKey = (ts: number) => new Date(ts).toISOString().slice(0, 7);

export function advisorRoutes({ deps, page, needs, view, html, field }: ConsolePages): void {
  const catalogText = () => {
    try {
      return readFileSync(deps.config.plansFile, 'utf8');
    } catch {
      return '';
    }
  };
  const defaultForm = (): AdvisorForm => {
    const now = deps.now();
    const d = new Date(now);
    return {
      catalog: catalogText(),
      from: monthKey(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 2, 1)),
      to: monthKey(periodOf(now).start),
    };
  };

  page('/console/advisor', async (s, _request, reply) => {
    if (!needs(s, reply, 'billing')) return reply;
    return html(reply, 200, advisorPage(view(s), defaultForm(), null));
  });

  page(
    '/console/advisor',
    async (s, request, reply) => {
      if (!needs(s, reply, 'billing')) return reply;
      const body = request.body ?? {};
      const form: AdvisorForm = {
        catalog: field(body, 'catalog'),
        from: field(body, 'from'),
        to: field(body, 'to'),
      };
      const refuse = (text: string) =>
        html(reply, 422, advisorPage(view(s, { kind: 'error', text }), form, null));
      const from = MONTH.exec(form.from);
      const to = MONTH.exec(form.to);
      if (!from) return refuse(`From month: expected a month like 2026-09, got "${form.from}".`);
      if (!to) return refuse(`To month: expected a month like 2026-11, got "${form.to}".`);
      const start = Date.UTC(Number(from[1]), Number(from[2]) - 1, 1);
      const end = Date.UTC(Number(to[1]), Number(to[2]) - 1, 1);
      if (start > end) return refuse('The from month is after the to month.');
      if (end > deps.now()) return refuse('The to month has not started yet.');
      if ((end - start) / 86_400_000 > 366) return refuse('At most twelve months at a time.');
      let proposed: PlanCatalog;
      try {
        proposed = parsePlanCatalog(form.catalog, 'proposed catalog');
      } catch (err) {
        if (err instanceof PlanCatalogError || err instanceof Error) return refuse(err.message);
        throw err;
      }
      const report = await backtest(deps.reports, {
        current: deps.catalog,
        proposed,
        from: start,
        to: end,
        asOf: deps.now(),
        downgradeRule: deps.config.downgradeRule,
        guards: deps.config.paceGuards,
      });
      const check = compareWithRecorded(
        report.currentAlerts,
        await recordedAlerts(deps.reports, report.periods),
      );
      await deps.audit.record(s.actor, 'advisor.backtest', proposed.version, {
        periods: report.periods,
        resources: report.resources,
      });
      return html(
        reply,
        200,
        advisorPage(view(s), form, {
          report,
          recorded: check,
          canDisable: can(s.viewer, 'support'),
        }),
      );
    },
    'POST',
  );

  /** Disables an abusive add-on: marks it deprovisioned through the Platform API (the add-on's own
   * action), records the deprovision with its reason (the notifier tells the customer), audits it. */
  page(
    '/console/advisor/disable',
    async (s, request, reply) => {
      if (!needs(s, reply, 'support')) return reply;
      const body = request.body ?? {};
      const id = field(body, 'resource');
      const reason = field(body, 'reason');
      const done = (status: number, kind: 'ok' | 'error', text: string, r: FastifyReply = reply) =>
        html(
          r,
          status,
          consolePage(
            view(s, { kind, text }),
            'Plan advisor',
            '<p><a href="/console/advisor">Back to the plan advisor</a></p>',
          ),
        );
      const resource = UUID.test(id) ? await deps.resources.get(id) : null;
      if (resource?.state !== 'provisioned')
        return done(404, 'error', 'There is no provisioned add-on with that id.');
      if (reason.length < 10 || reason.length > 1000)
        return done(422, 'error', 'Give the customer a reason of 10 to 1,000 characters.');
      const tokens = await deps.tokens.load(id);
      if (!tokens)
        return done(409, 'error', 'The add-on has no Platform API token: it cannot be disabled from here.');
      try {
        await withAccessToken(
          deps.platform,
          tokens,
          (fresh) => deps.tokens.save(id, fresh),
          (token) => deps.platform.markDeprovisioned(token, id),
        );
      } catch (err) {
        // Nothing is recorded: the add-on is still live on Heroku, so it stays live here too.
        if (!(err instanceof PlatformApiError)) throw err;
        deps.log.warn({ resourceId: id, err: err.message }, 'disabling an add-on: Heroku refused');
        return done(502, 'error', `Heroku did not take the deprovision (${err.message}); nothing changed.`);
      }
      await deps.resources.deprovision(id, deps.now(), { disabledBy: s.viewer.email, reason });
      await deps.audit.record(s.actor, 'resource.disabled', id, { reason, plan: resource.plan });
      deps.log.warn({ resourceId: id, by: s.viewer.email }, 'add-on disabled from the plan advisor');
      return done(200, 'ok', `Disabled ${resource.name ?? id}; the customer is told why by email.`);
    },
    'POST',
  );
}
