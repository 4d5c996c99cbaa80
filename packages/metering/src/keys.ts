import { resourceTag, shardTag } from '@meterline/redis';
import { COARSE_BUCKET, FINE_BUCKET } from './period.ts';

/** Every Redis key of one resource, in one place. All share the resource's hash tag (its shard's), which
 * is hashed once here: code that builds many keys of one resource takes them from one `resourceKeys`.
 * A class, not an object of closures: the ingestor makes one per resource and batch. */
class ResourceKeys {
  /** the resource's shard tag and id, the start of each of its keys */
  readonly tag: string;

  constructor(resourceId: string, shard?: number) {
    this.tag = resourceTag(resourceId, shard);
  }

  /** hash: everything the counting keeps of the resource, one field each (`counterFields`): period
   * totals, window buckets, applied offsets, dedupe ids. One key instead of one per bucket and slot: a
   * key costs its name and some 50 bytes of Redis bookkeeping, a small hash's field ~2 bytes (ADR 0020). */
  get counters(): string {
    return this.tag;
  }

  /** hash: the downgrade-block flag, read by the api in one round trip */
  get flag(): string {
    return `${this.tag}:f`;
  }
}

/** The keys of one resource (`shard` when the caller has it already). */
export const resourceKeys = (resourceId: string, shard?: number) => new ResourceKeys(resourceId, shard);

/** The fields of a resource's counters hash. Short, with numbers for times, so that a resource's hash
 * stays a listpack (fields and values up to 64 bytes, Redis's default `hash-max-listpack-value`): the
 * first character tells the kind (count.lua sweeps by it; its field `p` is the hash's size after the
 * last sweep), and a metric (which begins with a letter) follows a number or a month without a
 * separator. */
export const counterFields = {
  /** metric's total for the calendar month periodKey ('2026-11') */
  total: (periodKey: string, metric: string) => `u${periodKey}${metric}`,
  /** the window bucket's total for one metric; buckets are numbered from the epoch */
  bucket: (metric: string, size: 'm5' | 'h', start: number) =>
    size === 'm5' ? `f${start / FINE_BUCKET}${metric}` : `h${start / COARSE_BUCKET}${metric}`,
  /** an event id's field, holding the dedupe slot (DEDUPE_WINDOW_SECONDS long, numbered from the
   * epoch) it last came in: 'i' and 16 bytes for an id written as a lower-case UUID (as the usage
   * client makes them; 17 bytes instead of 37), 't' and the id for any other */
  eventId: (id: string): Buffer =>
    isLowerUuid(id) ? Buffer.concat([I, Buffer.from(id.replaceAll('-', ''), 'hex')]) : Buffer.from(`t${id}`),
  /** the highest offset of partitionField ("topic:partition") already applied to the counters */
  applied: (partitionField: string) => `o${partitionField}`,
  /** offsets (comma-separated) of producer retries in partitionField the ledger may not have passed yet */
  retries: (partitionField: string) => `d${partitionField}`,
};

const I = Buffer.from('i');

/** The period prefix of `counterFields.total`: the fields of one month. */
export const totalsPrefix = (periodKey: string) => `u${periodKey}`;

const DASH = 0x2d;

/** Whether an id is a UUID in lower case (8-4-4-4-12 hex digits): such ids are kept as 16 bytes. By
 * character: this runs per event. */
export function isLowerUuid(id: string): boolean {
  if (id.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== DASH) return false;
    } else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** Writes a lower-case UUID's 16 bytes into `out` at `at` (`isLowerUuid(id)` holds). */
export function writeUuid(id: string, out: Buffer, at: number): void {
  let k = at;
  for (let i = 0; i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) i++;
    out[k++] = (hexValue(id.charCodeAt(i)) << 4) | hexValue(id.charCodeAt(i + 1));
  }
}

const hexValue = (c: number) => (c <= 0x39 ? c - 0x30 : c - 0x57);

/** string: the counters' generation, one marker per Redis shard (ADR 0011). Missing: the shard lost its
 * data, and nothing counts into it until the counters are rebuilt from the ledger. The name carries the
 * counters' layout (`gen2`: one hash per resource, ADR 0020): a Redis holding the older layout has no
 * such marker, so the first start on it rebuilds every shard from the ledger (and wipes the old keys). */
export const generationKey = (shard: number) => `${shardTag(shard)}:gen2`;

/** string: the run_id of the Redis server the evaluator last copied every flag into. Missing (Redis lost
 * its data, or the first start) or another server's (a restart or failover: the data may be older), the
 * evaluator writes every flag from Postgres again. */
export const flagsCopyKey = 'flags:copy';

/** The same keys, one at a time by resource id. */
export const keys = {
  counters: (resourceId: string) => resourceKeys(resourceId).counters,
  flag: (resourceId: string) => resourceKeys(resourceId).flag,
};
