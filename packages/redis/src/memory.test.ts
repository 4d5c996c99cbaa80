import { describe, expect, it } from 'vitest';
import { parseMemoryInfo } from './memory.ts';

describe('parseMemoryInfo', () => {
  it('reads the sizes and the policy of INFO memory', () => {
    const info = [
      '# Memory',
      'used_memory:1048576',
      'used_memory_human:1.00M',
      'used_memory_rss:4194304',
      'used_memory_peak:2097152',
      'maxmemory:0',
      'maxmemory_policy:noeviction',
      '',
    ].join('\r\n');
    expect(parseMemoryInfo(info)).toEqual({
      usedBytes: 1_048_576,
      rssBytes: 4_194_304,
      peakBytes: 2_097_152,
      maxBytes: null,
      policy: 'noeviction',
    });
    expect(parseMemoryInfo('maxmemory:536870912\nmaxmemory_policy:allkeys-lru').maxBytes).toBe(536_870_912);
  });
});
