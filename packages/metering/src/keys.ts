import { resourceTag, shardTag } from '@meterline/redis';

/** Every Redis key of one resource, in one place. All share the resource's hash tag (its shard's), which
 * is hashed once here: code that builds many keys of one resource takes them from one `resourceKeys`.
 * A class, not an object of closures: the ingestor makes one per resource and batch. */
class ResourceKeys {
  /** the resource's shard tag and id, the start of each of its keys */
  readonly tag: string;

  constructor(resourceId: string, shard?: number) {
    this.tag = resourceTag(resourceId, shard);
  }

  /** hash: metric -> total for the calendar month periodKey ('2026-11') */
  period(periodKey: string): string {
    return `${this.tag}:u:${periodKey}`;
  }

  /** string: the window bucket's total for one metric */
  bucket(metric: string, size: 'm5' | 'h', start: number): string {
    return `${this.tag}:w:${metric}:${size}:${start}`;
  }

  /** set: the event ids counted in one dedupe slot (DEDUPE_WINDOW_SECONDS long, numbered from the
   * epoch); expires two slots after it began */
  dedupeSlot(slot: number): string {
    return `${this.tag}:ds:${slot}`;
  }

  /** hash: topic:partition -> highest offset already applied to this resource's counters;
   * topic:partition|d -> offsets of producer retries that the ledger may not have passed yet */
  get applied(): string {
    return `${this.tag}:o`;
  }

  /** hash: the downgrade-block flag, read by the api in one round trip */
  get flag(): string {
    return `${this.tag}:f`;
  }
}

/** The keys of one resource (`shard` when the caller has it already). */
export const resourceKeys = (resourceId: string, shard?: number) => new ResourceKeys(resourceId, shard);

/** string: the counters' generation, one marker per Redis shard (ADR 0011). Missing: the shard lost its
 * data, and nothing counts into it until the counters are rebuilt from the ledger. */
export const generationKey = (shard: number) => `${shardTag(shard)}:gen`;

/** string: the run_id of the Redis server the evaluator last copied every flag into. Missing (Redis lost
 * its data, or the first start) or another server's (a restart or failover: the data may be older), the
 * evaluator writes every flag from Postgres again. */
export const flagsCopyKey = 'flags:copy';

/** The same keys, one at a time by resource id. */
export const keys = {
  period: (resourceId: string, periodKey: string) => resourceKeys(resourceId).period(periodKey),
  bucket: (resourceId: string, metric: string, size: 'm5' | 'h', start: number) =>
    resourceKeys(resourceId).bucket(metric, size, start),
  dedupeSlot: (resourceId: string, slot: number) => resourceKeys(resourceId).dedupeSlot(slot),
  applied: (resourceId: string) => resourceKeys(resourceId).applied,
  flag: (resourceId: string) => resourceKeys(resourceId).flag,
};
