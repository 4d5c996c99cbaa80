import {
  activeStart,
  DAY,
  findPlan,
  HOUR,
  type PaceGuards,
  type PlanCatalog,
  periodOf,
  reachesPercent,
} from '@meterline/rules';
import type { ResourceTimeline, UsageHour } from './replay.ts';

/** One UTC day of a resource's metric. */
export interface DayUsage {
  metric: string;
  day: number;
  quantity: number;
}

const dayKey = (metric: string, day: number) => `${metric}|${day}`;

/**
 * The days of one resource whose hours an exact replay needs (`metric|dayStart`). Usage only grows
 * (quantities are >= 0), so on any other day every evaluation the evaluator made gave the same answer
 * as one evaluation of the day's total: no tier or pace boundary of either catalog was newly reached,
 * the plan and the resource's liveness did not change, no pace boundary waited for pace to be armed,
 * and `asOf` is not inside it. Those days replay as one row each; the rest hour by hour.
 */
export function daysToDrill(
  resource: ResourceTimeline,
  days: readonly DayUsage[],
  catalogs: readonly PlanCatalog[],
  opts: { asOf: number; guards: PaceGuards },
): Set<string> {
  const out = new Set<string>();
  const moments = [
    resource.provisionedAt,
    resource.deprovisionedAt,
    opts.asOf,
    ...resource.planChanges,
  ].filter((t): t is number => t !== null);
  let metric = '';
  let periodEnd = 0;
  let used = 0;
  for (const d of days) {
    if (d.metric !== metric || d.day >= periodEnd) {
      metric = d.metric;
      periodEnd = periodOf(d.day).end;
      used = 0;
    }
    const before = used;
    used += d.quantity;
    const end = d.day + DAY;
    const period = periodOf(d.day);
    const armedAt =
      activeStart(period, resource.provisionedAt ?? undefined) + opts.guards.minElapsedHours * HOUR;
    let drill = moments.some((t) => t >= d.day && t < end);
    const planName = resource.planAt(d.day);
    for (const catalog of catalogs) {
      if (drill) break;
      const plan = findPlan(catalog, planName);
      const limit = plan?.limits[d.metric];
      if (!plan || limit === undefined || !(limit > 0)) continue;
      const reached = (p: number) => reachesPercent(used, limit, p);
      // A boundary newly reached today; or, before pace is armed, a pace boundary reached at all (the
      // alert waits for the first usage after arming, which may be today).
      drill =
        [...plan.thresholds, ...plan.pace.map((r) => r.usedPercent)].some(
          (p) => reached(p) && !reachesPercent(before, limit, p),
        ) ||
        (d.day < armedAt && plan.pace.some((r) => reached(r.usedPercent)));
    }
    if (drill) out.add(dayKey(d.metric, d.day));
  }
  return out;
}

/**
 * The rows to replay for one resource: the hours of the drilled days, and one row per other day (at the
 * day's start) holding the day's total. Ordered by metric and time, as `replayAlerts` wants them.
 */
export function replayRows(
  days: readonly DayUsage[],
  drilled: ReadonlySet<string>,
  hours: readonly UsageHour[],
): UsageHour[] {
  const byDay = new Map<string, UsageHour[]>();
  for (const h of hours) {
    const k = dayKey(h.metric, Math.floor(h.hour / DAY) * DAY);
    const list = byDay.get(k);
    if (list) list.push(h);
    else byDay.set(k, [h]);
  }
  const out: UsageHour[] = [];
  for (const d of days) {
    const k = dayKey(d.metric, d.day);
    if (drilled.has(k)) out.push(...(byDay.get(k) ?? []));
    else out.push({ metric: d.metric, hour: d.day, quantity: d.quantity });
  }
  return out;
}
