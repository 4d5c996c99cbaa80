import { describe, expect, it } from 'vitest';
import { ExpiringMemo } from './memo.ts';

describe('ExpiringMemo', () => {
  it('remembers a key for its ttl, and forgets on delete', () => {
    const memo = new ExpiringMemo<string>(1_000, 10);
    memo.add('a', 5_000);
    expect(memo.has('a', 5_999)).toBe(true);
    expect(memo.has('a', 6_000)).toBe(false);
    expect(memo.has('b', 5_000)).toBe(false);
    memo.add('b', 5_000);
    memo.delete('b');
    expect(memo.has('b', 5_000)).toBe(false);
  });

  it('stays within its bound: when full, the expired go first, else all', () => {
    const memo = new ExpiringMemo<number>(1_000, 3);
    memo.add(1, 0);
    memo.add(2, 500);
    memo.add(3, 900);
    memo.add(4, 1_200); // full: 1 expired and goes, 2 and 3 stay
    expect([1, 2, 3, 4].map((k) => memo.has(k, 1_200))).toEqual([false, true, true, true]);
    expect(memo.size).toBe(3);
    memo.add(5, 1_300); // full, none expired: all go
    expect(memo.size).toBe(1);
    expect(memo.has(5, 1_300)).toBe(true);
  });
});
