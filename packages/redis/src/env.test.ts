import { type ConfigError, readEnv } from '@meterline/runtime';
import { describe, expect, it } from 'vitest';
import { redisEnv } from './index.ts';

const problems = (source: Record<string, string>) => {
  try {
    readEnv({ redis: redisEnv }, source);
    return [];
  } catch (err) {
    return (err as ConfigError).problems.map((p) => `${p.variable}: ${p.problem}`);
  }
};

describe('redisEnv', () => {
  it('takes one server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
    expect(readEnv({ redis: redisEnv }, { REDIS_URL: 'redis://127.0.0.1:6379' }).redis).toEqual({
      redisAddress: 'redis://127.0.0.1:6379',
      redisKeyPrefix: 'ml:',
    });
    expect(
      readEnv(
        { redis: redisEnv },
        { REDIS_URL: ' ', REDIS_CLUSTER_NODES: '127.0.0.1:17001, 127.0.0.1:17002' },
      ).redis.redisAddress,
    ).toEqual({ clusterNodes: ['127.0.0.1:17001', '127.0.0.1:17002'] });
  });

  it('stops naming the variable: neither, both, or a bad node list', () => {
    expect(problems({})).toEqual(['REDIS_URL: is required but not set']);
    expect(problems({ REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r:17001' })).toEqual([
      'REDIS_CLUSTER_NODES: set either REDIS_URL (one server) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
    ]);
    expect(problems({ REDIS_CLUSTER_NODES: '127.0.0.1' })).toEqual([
      'REDIS_CLUSTER_NODES: expected host:port[,host:port...], got "127.0.0.1"',
    ]);
    expect(problems({ REDIS_URL: 'http://r:6379' })).toEqual([
      'REDIS_URL: must use redis or rediss, got http',
    ]);
  });
});
