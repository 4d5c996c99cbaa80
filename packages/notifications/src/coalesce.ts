import type { AlertForEmail, AlertSeverity } from './alert.ts';

const SEVERITY_RANK: Record<AlertSeverity, number> = { INFO: 0, WARNING: 1, CRITICAL: 2 };

/**
 * Groups alerts that can share one email: same resource, same period (a late November alert and a
 * December one must not share "for November"). Groups keep the order in which their resources first
 * appear; inside a group, metrics keep their first-appearance order, THRESHOLD tiers come before
 * PACE, and tiers ascend. A redelivered alert (same id) appears once.
 */
export function coalesce(alerts: readonly AlertForEmail[]): AlertForEmail[][] {
  const groups = new Map<string, AlertForEmail[]>();
  const seen = new Set<string>();
  for (const alert of alerts) {
    if (seen.has(alert.id)) continue;
    seen.add(alert.id);
    const key = `${alert.resourceId}\u0000${alert.periodStart}`;
    const group = groups.get(key);
    if (group) group.push(alert);
    else groups.set(key, [alert]);
  }
  return [...groups.values()].map(inTierOrder);
}

/** Metrics in first-appearance order, THRESHOLD before PACE, tiers ascending. */
export function inTierOrder<T extends AlertForEmail>(alerts: readonly T[]): T[] {
  const metricOrder = new Map<string, number>();
  for (const a of alerts) if (!metricOrder.has(a.metric)) metricOrder.set(a.metric, metricOrder.size);
  return [...alerts].sort(
    (a, b) =>
      metricOrder.get(a.metric)! - metricOrder.get(b.metric)! ||
      (a.kind === b.kind ? 0 : a.kind === 'THRESHOLD' ? -1 : 1) ||
      a.threshold - b.threshold,
  );
}

/** The alert a coalesced email's subject names: the most severe, a crossed tier over a pace, the highest tier. */
export function headlineAlert<T extends Pick<AlertForEmail, 'severity' | 'kind' | 'threshold' | 'percent'>>(
  alerts: readonly T[],
): T {
  if (alerts.length === 0) throw new TypeError('headlineAlert needs at least one alert');
  return alerts.reduce((best, a) => {
    const order =
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[best.severity] ||
      (a.kind === best.kind ? 0 : a.kind === 'THRESHOLD' ? 1 : -1) ||
      a.threshold - best.threshold ||
      a.percent - best.percent;
    return order > 0 ? a : best;
  });
}
