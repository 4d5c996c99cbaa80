/** The numbers of one resource's period, computed once for both the JSON API and the dashboard. */
import type { CounterStore } from '@meterline/metering';
import {
  activeStart,
  DAY,
  type DowngradeRule,
  daysLeft,
  downgradeCheck,
  expectedDailyAverage,
  findPlan,
  lowerPlans,
  metricLabel,
  type PlanCatalog,
  percentOf,
  periodOf,
  projectUsage,
  tiersCrossed,
} from '@meterline/rules';

export interface MetricReport {
  metric: string;
  label: string;
  unit: string;
  used: number;
  /** null: the plan does not limit this metric (counted, never alerted) */
  limit: number | null;
  percent: number | null;
  projected: number | null;
  thresholds: number[];
  tiersCrossed: number[];
  /** The daily usage that uses up the limit exactly by the period end. */
  expectedDaily: number | null;
  /** Usage per day so far in the resource's part of the period. */
  actualDaily: number | null;
  /** What a steady pace would have used by now. */
  expectedByNow: number | null;
}

interface DowngradeReport {
  plan: string;
  displayName: string;
  allowed: boolean;
  message: string;
  allowedFrom: number | null;
}

export interface UsageReport {
  resourceId: string;
  plan: string;
  planDisplayName: string;
  overLimit: string;
  periodKey: string;
  periodStart: number;
  periodEnd: number;
  daysLeft: number;
  now: number;
  metrics: MetricReport[];
  downgrades: DowngradeReport[];
}

export interface ReportDeps {
  catalog: PlanCatalog;
  counters: CounterStore;
  downgradeRule: DowngradeRule;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export async function usageReport(
  deps: ReportDeps,
  resource: { id: string; plan: string; provisionedAt: number | null },
  now: number,
): Promise<UsageReport> {
  const { catalog } = deps;
  const period = periodOf(now);
  const usage = await deps.counters.periodUsage(resource.id, period.key);
  const plan = findPlan(catalog, resource.plan);
  const limits = plan?.limits ?? {};
  const activeFrom = resource.provisionedAt ?? undefined;
  const from = activeStart(period, activeFrom);
  const elapsedDays = (Math.min(now, period.end) - from) / DAY;

  // Limited metrics first, in the plan's order; then whatever else was counted.
  const names = [
    ...Object.keys(limits),
    ...Object.keys(usage)
      .filter((m) => !(m in limits))
      .sort(),
  ];
  const metrics = names.map((metric): MetricReport => {
    const used = usage[metric] ?? 0;
    const limit = limits[metric] ?? null;
    const info = metricLabel(catalog, metric);
    const activeFraction = period.end > from ? (Math.min(now, period.end) - from) / (period.end - from) : 1;
    return {
      metric,
      label: info.label,
      unit: info.unit,
      used,
      limit,
      percent: limit === null ? null : percentOf(used, limit),
      projected: projectUsage(used, period, now, activeFrom),
      thresholds: limit === null ? [] : (plan?.thresholds ?? []),
      tiersCrossed: limit === null || !plan ? [] : tiersCrossed(plan.thresholds, limit, used),
      expectedDaily: limit === null ? null : round2(expectedDailyAverage(limit, period)),
      actualDaily: elapsedDays > 0 ? round2(used / Math.max(elapsedDays, 1)) : null,
      expectedByNow: limit === null ? null : round2(limit * activeFraction),
    };
  });

  // Hidden plans are not the customer's to choose, so they are not offered as downgrades.
  const downgrades = plan
    ? lowerPlans(catalog, plan)
        .filter((p) => !p.hidden)
        .map((target): DowngradeReport => {
          const d = downgradeCheck({
            catalog,
            currentPlan: plan,
            targetPlan: target,
            usage,
            period,
            now,
            activeFrom,
            rule: deps.downgradeRule,
          });
          return {
            plan: target.name,
            displayName: target.displayName,
            allowed: d.allowed,
            message: d.message,
            allowedFrom: d.allowedFrom,
          };
        })
    : [];

  return {
    resourceId: resource.id,
    plan: resource.plan,
    planDisplayName: plan?.displayName ?? resource.plan,
    overLimit: plan?.overLimit ?? '',
    periodKey: period.key,
    periodStart: period.start,
    periodEnd: period.end,
    daysLeft: daysLeft(period, now),
    now,
    metrics,
    downgrades,
  };
}

/** The contract shape of `GET /api/v1/resources/:id/usage` (DESIGN.md). */
export function usageJson(report: UsageReport) {
  return {
    resourceId: report.resourceId,
    plan: report.plan,
    periodStart: new Date(report.periodStart).toISOString(),
    periodEnd: new Date(report.periodEnd).toISOString(),
    metrics: report.metrics.map((m) => ({
      metric: m.metric,
      used: m.used,
      limit: m.limit,
      percent: m.percent,
      projected: m.projected,
      tiersCrossed: m.tiersCrossed,
    })),
    downgrades: report.downgrades.map((d) => ({ plan: d.plan, allowed: d.allowed, message: d.message })),
  };
}
