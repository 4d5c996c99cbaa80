/** Token buckets for the api's rate limits: in this process's memory, so each instance limits on its own
 * (ADR 0017). */
import type { FastifyReply } from 'fastify';

export type Taken = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

export interface BucketSettings {
  /** requests allowed at once, and per `windowMs` at a steady rate */
  capacity: number;
  windowMs: number;
  /** buckets kept at most (a full bucket is the same as none; the oldest go first past this) */
  maxKeys?: number;
  /** a monotonic clock in ms: rate limits follow real time, not the business clock tests move */
  clock?: () => number;
}

/** One bucket per key (a client, an email, an address): each holds up to `capacity` tokens and gains
 * `capacity` per `windowMs`; a request takes one, and a bucket without one answers how long to wait. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  private readonly maxKeys: number;
  private readonly clock: () => number;

  constructor(private readonly settings: BucketSettings) {
    this.perMs = settings.capacity / settings.windowMs;
    this.maxKeys = settings.maxKeys ?? 10_000;
    this.clock = settings.clock ?? (() => performance.now());
  }

  take(key: string): Taken {
    const now = this.clock();
    const { capacity } = this.settings;
    let bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.at) * this.perMs);
      bucket.at = now;
    } else {
      if (this.buckets.size >= this.maxKeys) this.evict(now);
      bucket = { tokens: capacity, at: now };
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)) };
  }

  /** Gives back the token a request took, for requests that should not count (a sign-in that succeeded). */
  refund(key: string): void {
    const bucket = this.buckets.get(key);
    if (bucket) bucket.tokens = Math.min(this.settings.capacity, bucket.tokens + 1);
  }

  /** Drops the buckets that have refilled (they limit nothing), then the oldest while still full: many
   * keys (an attacker's invented emails) cost memory up to `maxKeys`, never more. */
  private evict(now: number): void {
    const { capacity } = this.settings;
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.perMs >= capacity) this.buckets.delete(key);
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size < this.maxKeys) break;
      this.buckets.delete(key);
    }
  }

  /** How many buckets are kept (for tests). */
  get size(): number {
    return this.buckets.size;
  }
}

/** The answer to a caller over its limit: 429, when to come back, and why, in words. */
export function tooManyRequests(reply: FastifyReply, retryAfterSeconds: number, message: string) {
  return reply
    .code(429)
    .header('retry-after', String(retryAfterSeconds))
    .send({ message: `${message} Try again in ${retryAfterSeconds} s.` });
}
