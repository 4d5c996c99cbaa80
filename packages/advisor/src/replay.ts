import {
  type AlertKind,
  DAY,
  DEFAULT_PACE_GUARDS,
  daysInPeriod,
  evaluateUsage,
  findPlan,
  HOUR,
  type PaceGuards,
  type Period,
  type PlanCatalog,
  periodOf,
  type Severity,
} from '@meterline/rules';

/** One hour of a resource's metric from the ledger. */
export interface UsageHour {
  metric: string;
  hour: number;
  quantity: number;
}

/** What the replay needs to know of a resource: when it was live and which plan it was on. */
export interface ResourceTimeline {
  id: string;
  /** null: never finished provisioning (the evaluator ignores it) unless `live` says otherwise. */
  provisionedAt: number | null;
  deprovisionedAt: number | null;
  /** Provisioned now, for a resource without a provisioning time (rows from before it was recorded). */
  live: boolean;
  planAt(ts: number): string;
  /** When the plan changed (the replay reads such days hour by hour). */
  planChanges: readonly number[];
}

/** An alert the evaluator would have decided. */
export interface ReplayedAlert {
  id: string;
  resourceId: string;
  plan: string;
  metric: string;
  periodKey: string;
  kind: AlertKind;
  threshold: number;
  severity: Severity;
  /** Usage as a percent of the limit when it was decided. */
  percent: number;
  /** The hour of usage that crossed it. */
  hour: number;
}

/** One resource's usage in one period: totals and day-by-day sums per metric. */
export interface PeriodUsage {
  period: Period;
  /** The plan at the end of the resource's part of the period (or at `asOf` in a running period). */
  plan: string;
  totals: Record<string, number>;
  /** metric -> usage of each day of the period (index 0 = the 1st). */
  days: Record<string, number[]>;
}

/** The moment a replay judges an hour of usage at: the hour's last millisecond, as the evaluator sees
 * the hour's last event; never after `asOf`, the time the replay stands at. */
const judgedAt = (hour: number, asOf: number) => Math.min(hour + HOUR - 1, asOf);

/** Whether the evaluator would judge the resource's usage at `ts` (it skips resources that are not
 * provisioned). */
export function isLive(r: ResourceTimeline, ts: number): boolean {
  if (r.deprovisionedAt !== null && ts >= r.deprovisionedAt) return false;
  return r.provisionedAt !== null ? r.provisionedAt <= ts : r.live;
}

/**
 * Replays one resource's hourly usage through the rules as the evaluator would have judged it live:
 * each hour that has usage is one evaluation of the running total of its metric in its period, at the
 * hour's end, against the plan the resource was on then, with the alerts already decided remembered.
 * `hours` must be ordered by metric and hour, and lie in whole periods from the first period replayed
 * (a period's total starts at its first hour). The same usage and catalog give the same alert ids the
 * evaluator recorded (`alertId` depends only on the crossing).
 */
export function replayAlerts(
  resource: ResourceTimeline,
  hours: readonly UsageHour[],
  catalog: PlanCatalog,
  opts: { asOf: number; guards?: Partial<PaceGuards> },
): ReplayedAlert[] {
  const guards = { ...DEFAULT_PACE_GUARDS, ...opts.guards };
  const out: ReplayedAlert[] = [];
  const activeFrom = resource.provisionedAt ?? undefined;
  let metric = '';
  let period: Period | null = null;
  let used = 0;
  let alerted = new Set<string>();
  for (const h of hours) {
    if (h.hour > opts.asOf) continue;
    if (h.metric !== metric || !period || h.hour >= period.end || h.hour < period.start) {
      metric = h.metric;
      period = periodOf(h.hour);
      used = 0;
      alerted = new Set();
    }
    used += h.quantity;
    const now = judgedAt(h.hour, opts.asOf);
    if (!isLive(resource, now)) continue;
    const plan = findPlan(catalog, resource.planAt(now));
    if (!plan) continue;
    const seen = alerted;
    for (const d of evaluateUsage({
      resourceId: resource.id,
      plan,
      metric,
      used,
      period,
      now,
      ...(activeFrom !== undefined ? { activeFrom } : {}),
      alreadyAlerted: (kind, tier) => seen.has(`${kind}:${tier}`),
      guards,
    })) {
      seen.add(`${d.kind}:${d.threshold}`);
      out.push({
        id: d.id,
        resourceId: resource.id,
        plan: plan.name,
        metric,
        periodKey: period.key,
        kind: d.kind,
        threshold: d.threshold,
        severity: d.severity,
        percent: d.percent,
        hour: h.hour,
      });
    }
  }
  return out;
}

/** The resource's usage per period it was live in (between `from`'s start and `asOf`), whatever the
 * catalog: the base of the distributions, the over-limit lists and the better-plan advice. */
export function usageByPeriod(
  resource: ResourceTimeline,
  hours: readonly UsageHour[],
  opts: { periods: readonly Period[]; asOf: number },
): PeriodUsage[] {
  const byKey = new Map<string, PeriodUsage>();
  for (const period of opts.periods) {
    const last = Math.min(period.end - 1, opts.asOf);
    if (last < period.start) continue;
    const liveSomeTime =
      (resource.provisionedAt === null ? resource.live : resource.provisionedAt <= last) &&
      (resource.deprovisionedAt === null || resource.deprovisionedAt > period.start);
    if (!liveSomeTime) continue;
    const lastLive = resource.deprovisionedAt !== null ? Math.min(last, resource.deprovisionedAt - 1) : last;
    byKey.set(period.key, { period, plan: resource.planAt(lastLive), totals: {}, days: {} });
  }
  for (const h of hours) {
    if (h.hour > opts.asOf) continue;
    const u = byKey.get(periodOf(h.hour).key);
    if (!u) continue;
    u.totals[h.metric] = (u.totals[h.metric] ?? 0) + h.quantity;
    let days = u.days[h.metric];
    if (!days) {
      days = new Array<number>(daysInPeriod(u.period)).fill(0);
      u.days[h.metric] = days;
    }
    const day = Math.floor((h.hour - u.period.start) / DAY);
    days[day] = (days[day] ?? 0) + h.quantity;
  }
  return [...byKey.values()];
}

/** The periods from the one holding `from` to the one holding `to`, both included. */
export function periodsBetween(from: number, to: number): Period[] {
  const out: Period[] = [];
  for (let p = periodOf(from); p.start <= to; p = periodOf(p.end)) out.push(p);
  return out;
}
