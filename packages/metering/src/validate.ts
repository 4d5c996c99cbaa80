import { UUID } from '@meterline/resources';
import { DAY, periodOf } from '@meterline/rules';
import type { UsageEvent } from '@meterline/schemas';

/** Why an event goes to the DLQ: the `dlq-reason` header and the metric label. */
export type RejectReason =
  | 'undecodable'
  | 'unknown-schema'
  | 'invalid-field'
  | 'quantity-out-of-range'
  | 'timestamp-in-future'
  | 'timestamp-too-old'
  | 'unknown-resource'
  | 'resource-not-provisioned'
  | 'key-mismatch';

/** Why an event cannot count: it goes to the DLQ with these as its reason headers. A class, so that a
 * check answers with the value itself or a `Rejection` (`instanceof`), without a wrapper per event. */
export class Rejection {
  constructor(
    readonly reason: RejectReason,
    readonly error: string,
  ) {}
}

export interface ValidationSettings {
  /** an event may be this far ahead of the ingestor's clock */
  maxFutureSkewMs: number;
  /** an event still counts this long after its period closed */
  lateGraceMs: number;
  /** sanity cap per event */
  maxQuantity: number;
}

export const defaultValidation: ValidationSettings = {
  maxFutureSkewMs: 5 * 60_000,
  lateGraceMs: 2 * DAY,
  maxQuantity: 1e9,
};

/** A resource id's form (the resources package owns it). */
export { UUID };

const METRIC = /^[a-z][a-z0-9_.]{0,63}$/;

/** Strings already found valid, so a resource id or metric that repeats is checked once (a set lookup
 * costs less than the regular expression). Bounded: cleared when full. */
class Accepted {
  private readonly seen = new Set<string>();
  constructor(
    private readonly test: (s: string) => boolean,
    private readonly max: number,
  ) {}
  has(s: string): boolean {
    if (this.seen.has(s)) return true;
    if (!this.test(s)) return false;
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.add(s);
    return true;
  }
}
/** lower-case resource uuids (an upper-case one is valid, and normalised, but not remembered) */
const lowerUuids = new Accepted((s) => UUID.test(s) && s === s.toLowerCase(), 200_000);
const validMetrics = new Accepted((s) => METRIC.test(s), 10_000);

const reject = (reason: RejectReason, error: string) => new Rejection(reason, error);

/** Checks the fields of a decoded event (Avro record or JSON object) and the time rules, and returns the
 * event normalised (in `into` when given: the ingestor checks every event of a batch into one object;
 * `into` may be `raw` itself). The resource checks need the directory and happen in the ingestor's handler. */
export function validateUsageEvent(
  raw: unknown,
  now: number,
  s: ValidationSettings,
  into?: UsageEvent,
): UsageEvent | Rejection {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return reject('invalid-field', 'event must be an object');
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 200) {
    return reject('invalid-field', 'id must be a non-empty string of at most 200 characters');
  }
  if (typeof r.resourceId !== 'string') return reject('invalid-field', 'resourceId must be a resource uuid');
  const lowerCase = lowerUuids.has(r.resourceId);
  if (!lowerCase && !UUID.test(r.resourceId)) {
    return reject('invalid-field', 'resourceId must be a resource uuid');
  }
  if (typeof r.metric !== 'string' || !validMetrics.has(r.metric)) {
    return reject('invalid-field', 'metric must match [a-z][a-z0-9_.]{0,63}');
  }
  if (typeof r.quantity !== 'number') {
    return reject('invalid-field', `quantity must be a number, got ${typeof r.quantity}`);
  }
  if (!Number.isFinite(r.quantity) || r.quantity < 0 || r.quantity > s.maxQuantity) {
    return reject(
      'quantity-out-of-range',
      `quantity must be finite, >= 0 and <= ${s.maxQuantity}, got ${r.quantity}`,
    );
  }
  let timestamp: number;
  if (typeof r.timestamp === 'number' && Number.isInteger(r.timestamp)) {
    timestamp = r.timestamp;
  } else if (typeof r.timestamp === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(r.timestamp)) {
    timestamp = Date.parse(r.timestamp);
    if (Number.isNaN(timestamp))
      return reject('invalid-field', `timestamp is not a valid ISO-8601 time: ${r.timestamp}`);
  } else {
    return reject('invalid-field', 'timestamp must be epoch milliseconds or an ISO-8601 string');
  }
  if (r.source !== undefined && r.source !== null && typeof r.source !== 'string') {
    return reject('invalid-field', 'source must be a string or null');
  }
  if (timestamp > now + s.maxFutureSkewMs) {
    return reject(
      'timestamp-in-future',
      `timestamp ${new Date(timestamp).toISOString()} is ahead of now by more than ${s.maxFutureSkewMs} ms`,
    );
  }
  const period = periodOf(timestamp);
  if (now > period.end + s.lateGraceMs) {
    return reject(
      'timestamp-too-old',
      `timestamp ${new Date(timestamp).toISOString()}: its period ${period.key} closed more than ${s.lateGraceMs} ms ago`,
    );
  }
  const event = into ?? ({} as UsageEvent);
  // Read before written: `into` may be `raw`.
  const source = typeof r.source === 'string' ? r.source : null;
  event.id = r.id;
  event.resourceId = lowerCase ? r.resourceId : r.resourceId.toLowerCase();
  event.metric = r.metric;
  event.quantity = r.quantity;
  event.timestamp = timestamp;
  event.source = source;
  return event;
}
