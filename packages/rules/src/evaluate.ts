import type { Plan } from './catalog.ts';
import { activeStart, type Period } from './period.ts';
import { DAY, HOUR } from './time.ts';
import {
  type AlertKind,
  alertId,
  expectedDailyAverage,
  percentOf,
  projectUsage,
  reachesPercent,
  type Severity,
  severityFor,
  tiersCrossed,
} from './usage.ts';

export interface PaceGuards {
  /** No PACE alert in the first hours of the resource's period: early bursts are noise, not pace. */
  minElapsedHours: number;
  /** No PACE alert for plans whose limit is this small: 5 of 10 calls in a week is not a trend. */
  minLimit: number;
}

export const DEFAULT_PACE_GUARDS: PaceGuards = { minElapsedHours: 24, minLimit: 10 };

export interface AlertDecision {
  id: string;
  kind: AlertKind;
  /** The tier in percent, or the pace rule's usedPercent. */
  threshold: number;
  severity: Severity;
  used: number;
  limit: number;
  percent: number;
  projected: number | null;
  expectedDailyAverage: number;
}

export interface UsageEvaluation {
  resourceId: string;
  plan: Plan;
  metric: string;
  /** Usage of the metric in `period` so far. */
  used: number;
  period: Period;
  now: number;
  /** Provisioning time, when the resource was provisioned inside the period. */
  activeFrom?: number;
  /** Whether this (kind, tier) has already been alerted for this resource, metric and period. */
  alreadyAlerted: (kind: AlertKind, tier: number) => boolean;
  guards?: Partial<PaceGuards>;
}

/**
 * The alerts that `used` calls for and that have not been raised yet: THRESHOLD alerts for every crossed
 * tier (lowest first), then PACE alerts for every breached pace rule. A metric the plan does not limit
 * yields none.
 */
export function evaluateUsage(input: UsageEvaluation): AlertDecision[] {
  const { resourceId, plan, metric, used, period, now, activeFrom, alreadyAlerted } = input;
  const limit = plan.limits[metric];
  if (limit === undefined || !(limit > 0)) return [];
  const guards = { ...DEFAULT_PACE_GUARDS, ...input.guards };

  const projected = projectUsage(used, period, now, activeFrom, guards.minElapsedHours);
  const decide = (kind: AlertKind, threshold: number): AlertDecision => ({
    id: alertId(resourceId, metric, period.key, kind, threshold),
    kind,
    threshold,
    severity: severityFor(kind, threshold),
    used,
    limit,
    percent: percentOf(used, limit),
    projected,
    expectedDailyAverage: expectedDailyAverage(limit, period),
  });

  const decisions = tiersCrossed(plan.thresholds, limit, used)
    .filter((tier) => !alreadyAlerted('THRESHOLD', tier))
    .map((tier) => decide('THRESHOLD', tier));

  const from = activeStart(period, activeFrom);
  const paceArmed = limit >= guards.minLimit && now - from >= guards.minElapsedHours * HOUR;
  if (paceArmed) {
    const breached = plan.pace
      .filter((rule) => now < period.start + rule.withinDays * DAY)
      .filter((rule) => reachesPercent(used, limit, rule.usedPercent))
      .map((rule) => rule.usedPercent)
      .sort((a, b) => a - b);
    for (const usedPercent of breached) {
      if (!alreadyAlerted('PACE', usedPercent)) decisions.push(decide('PACE', usedPercent));
    }
  }
  return decisions;
}
