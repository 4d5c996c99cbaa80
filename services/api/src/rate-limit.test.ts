import { describe, expect, it } from 'vitest';
import { TokenBuckets } from './rate-limit.ts';

function clock() {
  let t = 0;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

describe('TokenBuckets', () => {
  it('allows a burst of capacity, then refuses with the wait until the next token', () => {
    const c = clock();
    const buckets = new TokenBuckets({ capacity: 3, windowMs: 60_000, clock: c.now });
    expect([1, 2, 3].map(() => buckets.take('a').ok)).toEqual([true, true, true]);
    expect(buckets.take('a')).toEqual({ ok: false, retryAfterSeconds: 20 });
    c.advance(15_000);
    expect(buckets.take('a')).toEqual({ ok: false, retryAfterSeconds: 5 });
    c.advance(5_000);
    expect(buckets.take('a').ok).toBe(true);
    expect(buckets.take('a').ok).toBe(false);
  });

  it('keeps each key apart: one caller spending its bucket leaves another untouched', () => {
    const c = clock();
    const buckets = new TokenBuckets({ capacity: 2, windowMs: 1000, clock: c.now });
    buckets.take('attacker');
    buckets.take('attacker');
    expect(buckets.take('attacker').ok).toBe(false);
    expect(buckets.take('honest').ok).toBe(true);
  });

  it('gives a refunded token back, up to capacity', () => {
    const c = clock();
    const buckets = new TokenBuckets({ capacity: 2, windowMs: 1000, clock: c.now });
    for (let i = 0; i < 5; i++) {
      expect(buckets.take('a').ok).toBe(true);
      buckets.refund('a');
    }
    buckets.refund('a');
    expect([1, 2, 3].map(() => buckets.take('a').ok)).toEqual([true, true, false]);
  });

  it('refills to capacity, not beyond, however long a key was idle', () => {
    const c = clock();
    const buckets = new TokenBuckets({ capacity: 2, windowMs: 1000, clock: c.now });
    buckets.take('a');
    c.advance(3_600_000);
    expect([1, 2, 3].map(() => buckets.take('a').ok)).toEqual([true, true, false]);
  });

  it('holds at most maxKeys buckets: refilled ones go first, then the oldest', () => {
    const c = clock();
    const buckets = new TokenBuckets({ capacity: 1, windowMs: 1000, maxKeys: 3, clock: c.now });
    for (const k of ['a', 'b', 'c']) buckets.take(k);
    c.advance(1000);
    buckets.take('c');
    buckets.take('d');
    // a and b had refilled and were dropped; c, spent again, stayed.
    expect(buckets.size).toBe(2);
    expect(buckets.take('c').ok).toBe(false);
    for (const k of ['e', 'f', 'g']) buckets.take(k);
    expect(buckets.size).toBe(3);
  });
});
