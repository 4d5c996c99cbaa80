import { describe, expect, it } from 'vitest';
import { groupByShard, REDIS_SHARDS, resourceTag, shardOf, shardOfKey, shardTag } from './index.ts';

describe('shard tags', () => {
  it('reads back the shard of every key built from a tag, and none from a key without one', () => {
    for (let shard = 0; shard < REDIS_SHARDS; shard++)
      expect(shardOfKey(`${shardTag(shard)}:gen`)).toBe(shard);
    const resourceId = '0f8fad5b-d9cb-469f-a165-70867728950e';
    expect(shardOfKey(`${resourceTag(resourceId)}:u:2026-12`)).toBe(shardOf(resourceId));
    expect(shardOfKey('flags:copy')).toBeNull();
    expect(shardOfKey('x{s1}:gen')).toBeNull();
  });
});

describe('groupByShard', () => {
  it("puts every item in its resource's shard, in input order, and nothing else there", () => {
    const ids = Array.from(
      { length: 500 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    const items = ids.flatMap((id, i) => [
      { id, n: 2 * i },
      { id, n: 2 * i + 1 },
    ]);
    const groups = groupByShard(items, (item) => item.id);
    expect(groups.size).toBeGreaterThan(1);
    let total = 0;
    for (const [shard, group] of groups) {
      for (const item of group) expect(shardOf(item.id)).toBe(shard);
      const ns = group.map((item) => item.n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
      total += group.length;
    }
    expect(total).toBe(items.length);
  });
});
