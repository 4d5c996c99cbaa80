import { DAY } from './time.ts';

/** The billing period is the calendar month in UTC: [start, end), epoch ms. */
export interface Period {
  start: number;
  end: number;
  /** 'YYYY-MM', e.g. '2026-11'. */
  key: string;
}

// The hot path asks for the same month millions of times: the last answer is kept (frozen, shared).
let lastPeriod: Period | null = null;

export function periodOf(ts: number): Period {
  if (lastPeriod && ts >= lastPeriod.start && ts < lastPeriod.end) return lastPeriod;
  lastPeriod = computePeriod(ts);
  return lastPeriod;
}

function computePeriod(ts: number): Period {
  if (!Number.isFinite(ts)) throw new RangeError(`periodOf: not a timestamp (got ${ts})`);
  const date = new Date(ts);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  return Object.freeze({
    start: Date.UTC(year, month, 1),
    end: Date.UTC(year, month + 1, 1),
    key: `${String(year).padStart(4, '0')}-${String(month + 1).padStart(2, '0')}`,
  });
}

export function nextPeriod(p: Period): Period {
  return periodOf(p.end);
}

export function daysInPeriod(p: Period): number {
  return Math.round((p.end - p.start) / DAY);
}

/** Whole days until the period ends, counting a started day as a day; 0 once it has ended. */
export function daysLeft(p: Period, now: number): number {
  const from = Math.min(Math.max(now, p.start), p.end);
  return Math.ceil((p.end - from) / DAY);
}

/**
 * Where the resource's part of the period begins: the period start, or the provisioning time when the
 * resource was provisioned inside the period (clamped to the period end).
 */
export function activeStart(p: Period, activeFrom?: number): number {
  if (activeFrom === undefined || !Number.isFinite(activeFrom)) return p.start;
  return Math.min(Math.max(activeFrom, p.start), p.end);
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** The English name of the UTC month of `ts`: "November". */
export function monthName(ts: number): string {
  return MONTHS[new Date(ts).getUTCMonth()]!;
}
