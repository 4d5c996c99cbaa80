import { createHash } from 'node:crypto';
import type { AlertKind, Severity } from '@meterline/schemas';
import { activeStart, daysInPeriod, type Period } from './period.ts';
import { HOUR } from './time.ts';

export type { AlertKind, Severity };

/** No projection until this much of the resource's period has elapsed: an hour of traffic says little about a month. */
export const PROJECTION_MIN_ELAPSED_HOURS = 24;

/**
 * Relative slack when comparing usage with a boundary. Counters add doubles (Redis INCRBYFLOAT), so ten
 * events of 0.1 sum to 0.9999999999999999; that must still cross a boundary of 1.
 */
const BOUNDARY_TOLERANCE = 1e-9;

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** True when `used` has reached `percent`% of `limit` (the exact boundary counts). */
export function reachesPercent(used: number, limit: number, percent: number): boolean {
  // limit * percent / 100 rounds like the decimal literal (1 * 29 / 100 === 0.29), unlike used * 100.
  const boundary = (limit * percent) / 100;
  return used >= boundary - boundary * BOUNDARY_TOLERANCE;
}

/** Usage as a percent of the limit, rounded to 2 decimals; 0 when the limit is not a positive number. */
export function percentOf(used: number, limit: number): number {
  if (!(limit > 0) || !Number.isFinite(limit)) return 0;
  return round2((used / limit) * 100);
}

/** The tiers that `used` has reached, ascending. Tier T is crossed iff used >= limit * T / 100. */
export function tiersCrossed(thresholds: number[], limit: number, used: number): number[] {
  if (!(limit > 0)) return [];
  return thresholds.filter((tier) => reachesPercent(used, limit, tier)).sort((a, b) => a - b);
}

/** The tiers crossed by going from `before` to `after`, ascending; none when usage did not grow. */
export function newlyCrossedTiers(
  thresholds: number[],
  limit: number,
  before: number,
  after: number,
): number[] {
  const already = new Set(tiersCrossed(thresholds, limit, before));
  return tiersCrossed(thresholds, limit, after).filter((tier) => !already.has(tier));
}

/**
 * Linear projection of usage to the end of the period, from the part of the period the resource has been
 * active (`activeFrom` = provisioning time when it falls inside the period). Returns null until
 * `minElapsedHours` (default PROJECTION_MIN_ELAPSED_HOURS = 24) of that part have elapsed, and for a
 * resource not active in the period at all; once the period has ended the projection is the usage itself.
 * Rounded to 2 decimals.
 */
export function projectUsage(
  used: number,
  period: Period,
  now: number,
  activeFrom?: number,
  minElapsedHours: number = PROJECTION_MIN_ELAPSED_HOURS,
): number | null {
  const from = activeStart(period, activeFrom);
  if (from >= period.end) return null;
  if (now >= period.end) return used;
  const elapsed = now - from;
  if (elapsed <= 0 || elapsed < minElapsedHours * HOUR) return null;
  return round2((used * (period.end - from)) / elapsed);
}

/** The daily usage that exactly uses up the limit by the end of the period. */
export function expectedDailyAverage(limit: number, period: Period): number {
  return limit / daysInPeriod(period);
}

/**
 * THRESHOLD: below 90% INFO, 90-99% WARNING, 100% and over CRITICAL (the overLimit action applies).
 * PACE: always WARNING, nothing has happened yet but it will before the period ends at this pace.
 */
export function severityFor(kind: AlertKind, tier: number): Severity {
  if (kind === 'PACE') return 'WARNING';
  if (tier >= 100) return 'CRITICAL';
  if (tier >= 90) return 'WARNING';
  return 'INFO';
}

/**
 * The alert's identity: the same (resource, metric, period, kind, tier) always gives the same id, so a
 * redelivered or re-evaluated crossing is recognisably the same alert. A uuid (version 8, RFC 9562) built
 * from sha256.
 */
export function alertId(
  resourceId: string,
  metric: string,
  periodKey: string,
  kind: AlertKind,
  tier: number,
): string {
  const hex = createHash('sha256')
    .update(JSON.stringify([resourceId, metric, periodKey, kind, tier]))
    .digest('hex');
  const variant = ((Number.parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
