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
const RESOURCE_FIELDS = ['addonName', 'appName', 'dashboardUrl', 'providerName', 'supportContact', 'now'] as const;

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
      throw new TypeError('renderAlertEmail: every alert must be of one resource and one period (see coalesce)');
    }
    const differs = RESOURCE_FIELDS.find((field) => ctx[field] !== first.ctx[field]);
    if (differs) throw new TypeError(`renderAlertEmail: every item must have the same ctx.${differs}`);
  }
  if (!/^https?:\/\//i.test(first.ctx.dashboardUrl)) {
    throw new TypeError('renderAlertEmail: ctx.dashboardUrl must be an http(s) URL');
  }

  const facts = inTierOrder(items.map((i) => i.alert)).map((alert): AlertFacts => {
    const item = items.find((i) => i.alert === alert)!;
    return { alert, ctx: item.ctx, elapsedDays: daysElapsed(alert.periodStart, alert.occurredAt) };
  });
  const headline = headlineAlert(facts.map((f) => f.alert));

  const sections: MetricSection[] = [];
  for (const f of facts) {
    const section = sections.find((s) => s.latest.metric === f.alert.metric);
    if (section) section.tiers.push(f);
    else sections.push({ tiers: [f], latest: f.alert, ctx: f.ctx, limitReachedAt: null });
  }
  for (const s of sections) {
    s.latest = s.tiers.reduce(
      (a, t) => (t.alert.occurredAt > a.occurredAt || (t.alert.occurredAt === a.occurredAt && t.alert.used > a.used) ? t.alert : a),
      s.tiers[0]!.alert,
    );
    s.ctx = s.tiers.find((t) => t.alert === s.latest)!.ctx;
    s.limitReachedAt = limitReachedAt(s.latest);
  }

  const doc = alertEmailDocument({
    headline: facts.find((f) => f.alert === headline)!,
    sections,
    daysLeft: daysLeft(first.ctx.now, first.alert.periodEnd),
    periodStart: first.alert.periodStart,
    periodEnd: first.alert.periodEnd,
    ctx: first.ctx,
  });
  return { subject: doc.subject, text: renderText(doc), html: renderHtml(doc) };
}
