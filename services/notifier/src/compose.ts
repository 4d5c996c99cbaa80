import { createHash } from 'node:crypto';
import { storedCatalogs } from '@meterline/catalog';
import type { Pool } from '@meterline/db';
import {
  type AlertForEmail,
  type EmailContext,
  type RenderedEmail,
  renderAlertEmail,
} from '@meterline/notifications';
import type { ResourceAudience } from '@meterline/resources';
import { findPlan, metricLabel, nextPlanUp, type Plan, type PlanCatalog } from '@meterline/rules';

export interface EmailSettings {
  dashboardUrl: string;
  providerName: string;
  supportContact: string | undefined;
}

/** Said when an alert names a plan that no catalog ever loaded: the email still says something. */
const UNKNOWN_OVER_LIMIT =
  'What happens over the limit depends on your plan: see your dashboard for the details.';

/** The current catalog, and the plans of earlier catalogs for alerts raised before a plan was removed. */
export class PlanBook {
  constructor(
    readonly catalog: PlanCatalog,
    private readonly earlier: Map<string, Plan> = new Map(),
  ) {}

  static async load(pool: Pool, catalog: PlanCatalog): Promise<PlanBook> {
    const earlier = new Map<string, Plan>();
    for (const stored of await storedCatalogs(pool)) {
      for (const p of stored.plans ?? []) if (!earlier.has(p.name)) earlier.set(p.name, p);
    }
    return new PlanBook(catalog, earlier);
  }

  plan(name: string): Plan | undefined {
    return findPlan(this.catalog, name) ?? this.earlier.get(name);
  }
}

/** The context of one alert's metric: plan names, the consequence text, the next plan up. */
function emailContext(
  alert: AlertForEmail,
  audience: ResourceAudience | undefined,
  plans: PlanBook,
  settings: EmailSettings,
  now: number,
): EmailContext {
  const plan = plans.plan(alert.plan);
  const next = plan ? nextPlanUp(plans.catalog, plan, alert.metric) : undefined;
  const info = metricLabel(plans.catalog, alert.metric);
  // "100,000 API calls" reads better than "100,000 calls" when the label already names the unit.
  const unit =
    info.unit && info.label.toLowerCase().endsWith(info.unit.toLowerCase()) ? info.label : info.unit;
  return {
    planDisplayName: plan?.displayName ?? alert.plan,
    metricLabel: info.label,
    metricUnit: unit,
    overLimit: plan?.overLimit ?? UNKNOWN_OVER_LIMIT,
    nextPlan: next
      ? {
          name: next.name,
          displayName: next.displayName,
          limit: next.limits[alert.metric] ?? Number.POSITIVE_INFINITY,
        }
      : null,
    addonName: audience?.addonName ?? `meterline-${alert.resourceId.slice(0, 8)}`,
    appName: audience?.appName ?? null,
    dashboardUrl: `${settings.dashboardUrl}/dashboard/${encodeURIComponent(alert.resourceId)}`,
    providerName: settings.providerName,
    ...(settings.supportContact ? { supportContact: settings.supportContact } : {}),
    now,
  };
}

/** One email for the alerts of one resource and period (a coalesce group). */
export function renderGroup(
  alerts: readonly AlertForEmail[],
  audience: ResourceAudience | undefined,
  plans: PlanBook,
  settings: EmailSettings,
  now: number,
): RenderedEmail {
  return renderAlertEmail(
    alerts.map((alert) => ({ alert, ctx: emailContext(alert, audience, plans, settings, now) })),
  );
}

/** The same recipient and alerts always give the same Message-ID, so that the one possible resend
 * after a crash is recognisably the same message (ADR 0005). */
export function messageIdFor(recipient: string, alertIds: readonly string[], domain: string): string {
  const hash = createHash('sha256')
    .update(`${recipient}\n${[...alertIds].sort().join('\n')}`)
    .digest('hex')
    .slice(0, 32);
  return `<alert.${hash}@${domain}>`;
}
