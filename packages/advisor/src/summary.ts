import { headlineAlert } from '@meterline/notifications';
import {
  type AlertKind,
  computePlanFlag,
  DAY,
  type DowngradeRule,
  findPlan,
  type Plan,
  type PlanCatalog,
  type Severity,
} from '@meterline/rules';
import type { PeriodUsage, ReplayedAlert } from './replay.ts';

/** The share-of-limit buckets of the histograms, in percent: [0,10), [10,20) ... [90,100), [100,150), 150 and over. */
export const SHARE_BUCKETS: readonly { from: number; to: number; label: string }[] = [
  ...Array.from({ length: 10 }, (_, i) => ({
    from: i * 10,
    to: (i + 1) * 10,
    label: `${i * 10}–${(i + 1) * 10}%`,
  })),
  { from: 100, to: 150, label: '100–150%' },
  { from: 150, to: Number.POSITIVE_INFINITY, label: '≥150%' },
];

export interface RuleCrossings {
  /** The tier (THRESHOLD) or usedPercent (PACE). */
  threshold: number;
  /** Resource-periods that crossed it. */
  resources: number;
  /** The mean day of the period (1 = the 1st) on which they crossed it; null when none did. */
  averageDay: number | null;
}

/** One plan's metric under one catalog, over every period of the window. */
export interface PlanMetricOutcome {
  plan: string;
  metric: string;
  limit: number;
  /** Resource-periods on the plan (each resource once per period it was live in). */
  resourcePeriods: number;
  thresholds: RuleCrossings[];
  pace: RuleCrossings[];
  /** Resource-periods whose usage went over the limit. */
  overLimit: number;
  /** Percentiles of the share of the limit used, in percent. */
  share: { p50: number; p90: number; p99: number };
  /** Resource-periods per SHARE_BUCKETS bucket. */
  histogram: number[];
}

export interface TierCount {
  kind: AlertKind;
  threshold: number;
  severity: Severity;
  alerts: number;
  /** Emails the notifier would send for it: alerts decided together (one resource, one hour) share
   * one email, counted under its headline alert (the most severe, highest tier). */
  emails: number;
}

export interface OverLimit {
  resourceId: string;
  plan: string;
  metric: string;
  periodKey: string;
  used: number;
  limit: number;
}

export interface BetterPlan {
  resourceId: string;
  plan: string;
  /** The cheapest (lowest-rank) public plan whose limits the resource's last three periods fit. */
  suggested: string;
  direction: 'down' | 'up';
  /** The highest usage per metric over those periods. */
  peak: Record<string, number>;
}

/** What a catalog would have made of the window's usage. */
export interface CatalogOutcome {
  version: string;
  plans: PlanMetricOutcome[];
  alerts: TierCount[];
  totalAlerts: number;
  totalEmails: number;
  overLimit: OverLimit[];
  /** resourceId -> the lower plans it could not move to at the end of the window's last period
   * (or at `asOf` in a running one); only resources with a block are listed. */
  blockedDowngrades: Map<string, string[]>;
  betterPlans: BetterPlan[];
}

/** Nearest-rank percentile of ascending `sorted`; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The map's value for `key`, made and stored first when there is none. */
export function getOrSet<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const dayOf = (hour: number, periodStart: number) => Math.floor((hour - periodStart) / DAY) + 1;

/** Accumulates one catalog's outcome resource by resource (a replay never holds the whole ledger). */
export class OutcomeBuilder {
  private readonly shares = new Map<string, number[]>();
  private readonly crossings = new Map<string, { resources: number; daySum: number }>();
  private readonly tiers = new Map<string, TierCount>();
  private readonly overLimit: OverLimit[] = [];
  private readonly blocked = new Map<string, string[]>();
  private readonly better: BetterPlan[] = [];
  private totalAlerts = 0;
  private totalEmails = 0;

  constructor(
    private readonly catalog: PlanCatalog,
    private readonly opts: { asOf: number; rule?: Partial<DowngradeRule>; lastPeriodKey: string },
  ) {}

  /** Adds one resource: its usage per period and the alerts this catalog decided for it. */
  add(
    resource: { id: string; provisionedAt: number | null },
    usage: readonly PeriodUsage[],
    alerts: readonly ReplayedAlert[],
  ): void {
    const periodStart = new Map(usage.map((u) => [u.period.key, u.period.start]));
    for (const u of usage) {
      const plan = findPlan(this.catalog, u.plan);
      if (!plan) continue;
      for (const [metric, limit] of Object.entries(plan.limits)) {
        const used = u.totals[metric] ?? 0;
        const key = `${plan.name}|${metric}`;
        const list = getOrSet(this.shares, key, (): number[] => []);
        list.push((used / limit) * 100);
        if (used > limit)
          this.overLimit.push({
            resourceId: resource.id,
            plan: plan.name,
            metric,
            periodKey: u.period.key,
            used,
            limit,
          });
      }
    }

    const groups = new Map<string, ReplayedAlert[]>();
    for (const a of alerts) {
      this.totalAlerts++;
      const start = periodStart.get(a.periodKey) ?? Date.parse(`${a.periodKey}-01T00:00:00Z`);
      const c = this.crossingOf(a.plan, a.metric, a.kind, a.threshold);
      c.resources++;
      c.daySum += dayOf(a.hour, start);
      this.tierOf(a.kind, a.threshold, a.severity).alerts++;
      const g = `${a.periodKey}|${a.hour}`;
      const list = groups.get(g);
      if (list) list.push(a);
      else groups.set(g, [a]);
    }
    for (const group of groups.values()) {
      const h = headlineAlert(group);
      this.tierOf(h.kind, h.threshold, h.severity).emails++;
      this.totalEmails++;
    }

    const last = usage.find((u) => u.period.key === this.opts.lastPeriodKey);
    const current = last && findPlan(this.catalog, last.plan);
    if (last && current) {
      const flag = computePlanFlag({
        catalog: this.catalog,
        currentPlan: current,
        usage: last.totals,
        period: last.period,
        now: Math.min(this.opts.asOf, last.period.end - 1),
        ...(resource.provisionedAt !== null ? { activeFrom: resource.provisionedAt } : {}),
        ...(this.opts.rule ? { rule: this.opts.rule } : {}),
      });
      if (flag.downgradeBlocked) this.blocked.set(resource.id, flag.blockedPlans);
    }

    const advice = betterPlan(this.catalog, resource.id, usage.slice(-3));
    if (advice) this.better.push(advice);
  }

  private crossingOf(plan: string, metric: string, kind: AlertKind, threshold: number) {
    const key = `${plan}|${metric}|${kind}|${threshold}`;
    const c = getOrSet(this.crossings, key, () => ({ resources: 0, daySum: 0 }));
    return c;
  }

  private tierOf(kind: AlertKind, threshold: number, severity: Severity): TierCount {
    const key = `${kind}|${threshold}`;
    const t = getOrSet(
      this.tiers,
      key,
      (): TierCount => ({ kind, threshold, severity, alerts: 0, emails: 0 }),
    );
    return t;
  }

  build(): CatalogOutcome {
    const plans: PlanMetricOutcome[] = [];
    for (const plan of this.catalog.plans) {
      for (const [metric, limit] of Object.entries(plan.limits)) {
        const shares = (this.shares.get(`${plan.name}|${metric}`) ?? []).sort((a, b) => a - b);
        const histogram = SHARE_BUCKETS.map(() => 0);
        for (const s of shares) histogram[SHARE_BUCKETS.findIndex((b) => s < b.to)]!++;
        const crossings = (kind: AlertKind, threshold: number): RuleCrossings => {
          const c = this.crossings.get(`${plan.name}|${metric}|${kind}|${threshold}`);
          return {
            threshold,
            resources: c?.resources ?? 0,
            averageDay: c && c.resources > 0 ? round2(c.daySum / c.resources) : null,
          };
        };
        plans.push({
          plan: plan.name,
          metric,
          limit,
          resourcePeriods: shares.length,
          thresholds: plan.thresholds.map((t) => crossings('THRESHOLD', t)),
          pace: [...new Set(plan.pace.map((r) => r.usedPercent))].map((p) => crossings('PACE', p)),
          overLimit: this.overLimit.filter((o) => o.plan === plan.name && o.metric === metric).length,
          share: {
            p50: round2(percentile(shares, 50)),
            p90: round2(percentile(shares, 90)),
            p99: round2(percentile(shares, 99)),
          },
          histogram,
        });
      }
    }
    const alerts = [...this.tiers.values()].sort((a, b) =>
      a.kind === b.kind ? a.threshold - b.threshold : a.kind === 'THRESHOLD' ? -1 : 1,
    );
    return {
      version: this.catalog.version,
      plans,
      alerts,
      totalAlerts: this.totalAlerts,
      totalEmails: this.totalEmails,
      overLimit: this.overLimit,
      blockedDowngrades: this.blocked,
      betterPlans: this.better,
    };
  }
}

/** The cheapest public plan whose every limit the peak of `periods` fits, when it is not the plan the
 * resource is on (hidden plans are contracts, not advice: a resource on one gets none). */
export function betterPlan(
  catalog: PlanCatalog,
  resourceId: string,
  periods: readonly PeriodUsage[],
): BetterPlan | null {
  const last = periods.at(-1);
  if (!last) return null;
  const current = findPlan(catalog, last.plan);
  if (!current || current.hidden) return null;
  const peak: Record<string, number> = {};
  for (const p of periods)
    for (const [metric, used] of Object.entries(p.totals)) peak[metric] = Math.max(peak[metric] ?? 0, used);
  const fits = (plan: Plan) => Object.entries(plan.limits).every(([m, limit]) => (peak[m] ?? 0) <= limit);
  const cheapest = catalog.plans.filter((p) => !p.hidden).find(fits);
  if (!cheapest || cheapest.name === current.name) return null;
  return {
    resourceId,
    plan: current.name,
    suggested: cheapest.name,
    direction: cheapest.rank < current.rank ? 'down' : 'up',
    peak,
  };
}
