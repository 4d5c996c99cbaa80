import { findPlan, type PlanCatalog } from '@meterline/rules';
import type { PeriodUsage } from './replay.ts';
import { getOrSet, percentile } from './summary.ts';

/** A resource whose usage on one day was far out of line with the other resources on its plan: a
 * candidate for the guideline's spam and fraud review, not a verdict. */
export interface AbuseSignal {
  resourceId: string;
  plan: string;
  metric: string;
  /** The day (UTC, 'YYYY-MM-DD') of its highest usage. */
  day: string;
  used: number;
  /** The p99 of daily usage of the plan's other resources: the yardstick. */
  planP99: number;
  /** used / planP99. */
  ratio: number;
}

export interface AbuseRule {
  /** A day over this many times the plan's p99 is flagged. */
  factor: number;
  /** No yardstick from fewer resource-days than this: a handful of peers say nothing about a plan. */
  minPeerDays: number;
}

export const DEFAULT_ABUSE_RULE: AbuseRule = { factor: 10, minPeerDays: 50 };

/** Collects daily usage per plan and metric, resource by resource, and names the outliers. */
export class AbuseDetector {
  /** plan|metric -> every resource-day's usage (days with usage only). */
  private readonly days = new Map<string, number[]>();
  /** plan|metric -> each resource's highest day. */
  private readonly peaks = new Map<
    string,
    { resourceId: string; used: number; day: string; own: number[] }[]
  >();

  constructor(
    private readonly catalog: PlanCatalog,
    private readonly rule: AbuseRule = DEFAULT_ABUSE_RULE,
  ) {}

  add(resourceId: string, usage: readonly PeriodUsage[]): void {
    const own = new Map<string, { used: number; day: string; all: number[] }>();
    for (const u of usage) {
      const plan = findPlan(this.catalog, u.plan);
      if (!plan) continue;
      for (const [metric, days] of Object.entries(u.days)) {
        const key = `${plan.name}|${metric}`;
        const mine = getOrSet(own, key, () => ({ used: 0, day: '', all: [] as number[] }));
        days.forEach((used, i) => {
          if (!(used > 0)) return;
          mine.all.push(used);
          if (used > mine.used) {
            mine.used = used;
            mine.day = new Date(u.period.start + i * 86_400_000).toISOString().slice(0, 10);
          }
        });
      }
    }
    for (const [key, mine] of own) {
      if (mine.all.length === 0) continue;
      const all = getOrSet(this.days, key, (): number[] => []);
      for (const d of mine.all) all.push(d);
      const peaks = getOrSet(this.peaks, key, () => []);
      peaks.push({ resourceId, used: mine.used, day: mine.day, own: mine.all });
    }
  }

  /** The outliers, most extreme first. Each resource is measured against the p99 of the *other*
   * resources' days, so an abuser does not raise its own yardstick. */
  signals(): AbuseSignal[] {
    const out: AbuseSignal[] = [];
    for (const [key, all] of this.days) {
      const [plan, metric] = key.split('|') as [string, string];
      all.sort((a, b) => a - b);
      const median = percentile(all, 50);
      for (const peak of this.peaks.get(key) ?? []) {
        // Cheap filter first: far above the median of every day, or it cannot be far above the p99.
        if (!(peak.used > this.rule.factor * median)) continue;
        const others = withoutDays(all, peak.own);
        if (others.length < this.rule.minPeerDays) continue;
        const p99 = percentile(others, 99);
        if (p99 > 0 && peak.used > this.rule.factor * p99)
          out.push({
            resourceId: peak.resourceId,
            plan,
            metric,
            day: peak.day,
            used: peak.used,
            planP99: p99,
            ratio: Math.round((peak.used / p99) * 10) / 10,
          });
      }
    }
    return out.sort((a, b) => b.ratio - a.ratio);
  }
}

/** Ascending `all` without one occurrence of each of `remove` (which it holds). */
function withoutDays(all: readonly number[], remove: readonly number[]): number[] {
  const pending = new Map<number, number>();
  for (const r of remove) pending.set(r, (pending.get(r) ?? 0) + 1);
  const out: number[] = [];
  for (const v of all) {
    const n = pending.get(v);
    if (n) pending.set(v, n - 1);
    else out.push(v);
  }
  return out;
}
