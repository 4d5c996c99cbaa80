import type { ConfigReader } from '@meterline/runtime';
import { Redis } from 'ioredis';

export { Redis };

/** A Redis client. `keyPrefix` isolates a test run; it must not contain braces, so each resource's
 * hash tag stays the first {...} of the key and the design runs unchanged on Redis Cluster. */
export function createRedis(url: string, opts: { keyPrefix?: string; name?: string } = {}): Redis {
  if (opts.keyPrefix && /[{}]/.test(opts.keyPrefix))
    throw new Error('REDIS key prefix must not contain braces');
  return new Redis(url, {
    keyPrefix: opts.keyPrefix ?? '',
    connectionName: opts.name ?? 'meterline',
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    lazyConnect: false,
  });
}

/** The hash tag shared by every key of one resource. */
export const resourceTag = (resourceId: string) => `{r:${resourceId}}`;

export interface RedisSettings {
  redisUrl: string;
  /** prefix of every key (no braces), default 'ml:' */
  redisKeyPrefix: string;
}

export function readRedisSettings(c: ConfigReader): RedisSettings {
  return {
    redisUrl: c.url('REDIS_URL', ['redis', 'rediss'], { secret: true }),
    redisKeyPrefix: c.string('REDIS_KEY_PREFIX', { default: 'ml:' }),
  };
}
