import { describe, expect, it } from 'vitest';
import { REDIS_SHARDS, resourceTag, shardOf, shardOfKey, shardTag } from './index.ts';

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
