import type { AlertForEmail, EmailContext, RenderedEmail } from './alert.ts';
import { headlineAlert, inTierOrder } from './coalesce.ts';
import { daysElapsed, daysLeft, limitReachedAt } from './format.ts';
import { renderHtml, renderText } from './layout.ts';
import { type AlertFacts, alertEmailDocument, type MetricSection } from './templates.ts';

/** One alert and the context of its metric; the unit renderAlertEmail takes. */
export interface AlertEmailItem {
  alert: AlertForEmail;
  ctx: EmailContext;
}

/** Context fields that describe the resource, not a metric: every item of one email must agree on them. */
const RESOURCE_FIELDS = [
  'addonName',
  'appName',
  'dashboardUrl',
  'providerName',
  'supportContact',
  'now',
] as const;

/**
 * Renders one email for the alerts of one resource and period (a group from coalesce), each with the
 * context of its metric. The subject and first line tell the headline alert (headlineAlert); the body
 * has a section per metric that lists every alert of the group with its numbers.
 */
export function renderAlertEmail(items: readonly AlertEmailItem[]): RenderedEmail {
  const first = items[0];
  if (!first) throw new TypeError('renderAlertEmail needs at least one alert');
  for (const { alert, ctx } of items) {
    if (alert.resourceId !== first.alert.resourceId || alert.periodStart !== first.alert.periodStart) {
      throw new TypeError(
        'renderAlertEmail: every alert must be of one resource and one period (see coalesce)',
      );
    }
    const differs = RESOURCE_FIELDS.find((field) => ctx[field] !== first.ctx[field]);
    if (differs) throw new TypeError(`renderAlertEmail: every item must have the same ctx.${differs}`);
  }
  if (!/^https?:\/\//i.test(first.ctx.dashboardUrl)) {
    throw new TypeError('renderAlertEmail: ctx.dashboardUrl must be an http(s) URL');
  }

  const ctxOf = new Map(items.map((i) => [i.alert, i.ctx]));
  const facts = inTierOrder(items.map((i) => i.alert)).map(
    (alert): AlertFacts => ({
      alert,
      ctx: ctxOf.get(alert)!,
      elapsedDays: daysElapsed(alert.periodStart, alert.occurredAt),
    }),
  );
  const headline = headlineAlert(facts.map((f) => f.alert));

  const byMetric = new Map<string, AlertFacts[]>();
  for (const f of facts) byMetric.set(f.alert.metric, [...(byMetric.get(f.alert.metric) ?? []), f]);
  const sections = [...byMetric.values()].map((tiers): MetricSection => {
    // The most recent alert carries the current usage; on a tie, the larger count.
    const latest = tiers.reduce((a, b) =>
      b.alert.occurredAt > a.alert.occurredAt ||
      (b.alert.occurredAt === a.alert.occurredAt && b.alert.used > a.alert.used)
        ? b
        : a,
    );
    return { tiers, latest: latest.alert, ctx: latest.ctx, limitReachedAt: limitReachedAt(latest.alert) };
  });

  const doc = alertEmailDocument({
    headline: facts.find((f) => f.alert === headline)!,
    sections,
    daysLeft: daysLeft(first.ctx.now, first.alert.periodEnd),
    periodEnd: first.alert.periodEnd,
    ctx: first.ctx,
  });
  return { subject: doc.subject, text: renderText(doc), html: renderHtml(doc) };
}
