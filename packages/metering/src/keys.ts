import { resourceTag } from '@meterline/redis';

/** Every Redis key of one resource, in one place. All share the resource's hash tag. */
export const keys = {
  /** hash: metric -> total for the calendar month periodKey ('2026-11') */
  period: (resourceId: string, periodKey: string) => `${resourceTag(resourceId)}:u:${periodKey}`,
  /** string: the window bucket's total for one metric */
  bucket: (resourceId: string, metric: string, size: 'm5' | 'h', start: number) =>
    `${resourceTag(resourceId)}:w:${metric}:${size}:${start}`,
  /** set: the event ids counted in one dedupe slot (DEDUPE_WINDOW_SECONDS long, numbered from the
   * epoch); expires two slots after it began */
  dedupeSlot: (resourceId: string, slot: number) => `${resourceTag(resourceId)}:ds:${slot}`,
  /** hash: topic:partition -> highest offset already applied to this resource's counters;
   * topic:partition|d -> offsets of producer retries that the ledger may not have passed yet */
  applied: (resourceId: string) => `${resourceTag(resourceId)}:o`,
  /** hash: the downgrade-block flag, read by the api in one round trip */
  flag: (resourceId: string) => `${resourceTag(resourceId)}:f`,
};
