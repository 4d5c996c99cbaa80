/** The time buckets of the rolling windows, beside the counters, because the Redis keys are named by them. */
import { DAY, HOUR, MINUTE } from '@meterline/rules';

/** Rolling windows are summed from buckets: 5-minute buckets for the last hour, hourly buckets for
 * the last 24 hours and 7 days. Each bucket key expires on its own once no window needs it. */
export const FINE_BUCKET = 5 * MINUTE;
export const COARSE_BUCKET = HOUR;
export const FINE_KEEP = HOUR + FINE_BUCKET;
export const COARSE_KEEP = 7 * DAY + COARSE_BUCKET;

export const bucketStart = (ts: number, size: number) => ts - (ts % size);
export const hourOf = (ts: number) => bucketStart(ts, HOUR);
