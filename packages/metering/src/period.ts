/** Calendar-month periods (UTC) and the time buckets of the rolling windows. Kept here, beside the
 * counters, because the Redis keys are named by them. */
export interface MonthPeriod {
  start: number;
  end: number;
  key: string;
}

export function monthOf(ts: number): MonthPeriod {
  const d = new Date(ts);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  return {
    start: Date.UTC(y, m, 1),
    end: Date.UTC(y, m + 1, 1),
    key: `${y}-${String(m + 1).padStart(2, '0')}`,
  };
}

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** Rolling windows are summed from buckets: 5-minute buckets for the last hour, hourly buckets for
 * the last 24 hours and 7 days. Each bucket key expires on its own once no window needs it. */
export const FINE_BUCKET = 5 * MINUTE;
export const COARSE_BUCKET = HOUR;
export const FINE_KEEP = HOUR + FINE_BUCKET;
export const COARSE_KEEP = 7 * DAY + COARSE_BUCKET;

export const bucketStart = (ts: number, size: number) => ts - (ts % size);
export const hourOf = (ts: number) => bucketStart(ts, HOUR);
