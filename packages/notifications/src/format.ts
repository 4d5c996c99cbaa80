/** How numbers, dates and periods read in customer emails: English, UTC. */

import { DAY, monthName } from '@meterline/rules';

export { monthName };

/** "1 December 2026" */
export function formatDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCDate()} ${monthName(ms)} ${d.getUTCFullYear()}`;
}

/** "24 November" */
export function formatDay(ms: number): string {
  return `${new Date(ms).getUTCDate()} ${monthName(ms)}`;
}

const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const fractional = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** Thousands separators; decimals only where they matter (9.5 GB, not 90,300.4 calls). */
export function formatNumber(n: number): string {
  return (Math.abs(n) >= 100 ? whole : fractional).format(n);
}

export function formatQuantity(n: number, unit: string): string {
  return unit ? `${formatNumber(n)} ${unit}` : formatNumber(n);
}

const tenth = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** To a tenth; 99.96% reads 99.9%, never 100% before the limit is reached. */
export function formatPercent(p: number): string {
  const rounded = Math.round(p * 10) / 10;
  return `${tenth.format(p < 100 && rounded >= 100 ? 99.9 : rounded)}%`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Days left in the period, today included; 0 once it has ended. */
export function daysLeft(now: number, periodEnd: number): number {
  return Math.max(0, Math.ceil((periodEnd - now) / DAY));
}

/** Days of the period used so far, the current one included ("in the first 5 days"). */
export function daysElapsed(periodStart: number, at: number): number {
  return Math.max(1, Math.ceil((at - periodStart) / DAY));
}

/** When the limit is reached if usage keeps its average pace so far; null if not within the period. */
export function limitReachedAt(a: {
  used: number;
  limit: number;
  periodStart: number;
  periodEnd: number;
  occurredAt: number;
}): number | null {
  const elapsed = a.occurredAt - a.periodStart;
  if (a.used <= 0 || a.used >= a.limit || elapsed <= 0) return null;
  const at = a.periodStart + (a.limit / a.used) * elapsed;
  return at < a.periodEnd ? at : null;
}
