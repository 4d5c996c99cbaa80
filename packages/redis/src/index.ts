import { env, envSchema } from '@meterline/runtime';
import { Redis } from 'ioredis';

export { type RedisMemory, redisMemory } from './memory.ts';
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

/** The Redis server's run_id (INFO server): another one means the server restarted or failed over since,
 * and may hold older data than was written to it (a snapshot; a replica promoted before it had every
 * write). null where INFO does not tell it (some managed services hide it). */
export async function redisRunId(redis: Redis): Promise<string | null> {
  return /^run_id:(\w+)/m.exec(await redis.info('server'))?.[1] ?? null;
}

/** Resources are spread over this many hash tags ("shards"). One atomic Redis call can then count many
 * resources of a shard at once (all its keys share the tag), and a Redis Cluster still spreads the keys
 * over up to this many slots. */
export const REDIS_SHARDS = 128;

/** A resource's shard: a hash of its id (FNV-1a over its characters). */
export function shardOf(resourceId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < resourceId.length; i++) h = Math.imul(h ^ resourceId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % REDIS_SHARDS;
}

/** Items grouped by their resource's shard, each group in input order (one script call or one message
 * per shard). */
export function groupByShard<T>(items: Iterable<T>, resourceIdOf: (item: T) => string): Map<number, T[]> {
  const byShard = new Map<number, T[]>();
  for (const item of items) {
    const shard = shardOf(resourceIdOf(item));
    const group = byShard.get(shard);
    if (group) group.push(item);
    else byShard.set(shard, [item]);
  }
  return byShard;
}

/** A shard's hash tag: every key of the shard's resources, and its own keys, begin with it. */
export const shardTag = (shard: number) => `{s${shard}}`;

/** The shard a key belongs to (the number in its leading shard tag), or null for a key without one. */
export function shardOfKey(key: string): number | null {
  const tag = /^\{s(\d+)\}/.exec(key);
  return tag ? Number(tag[1]) : null;
}

/** The prefix of every key of one resource: its shard's hash tag, then the resource. */
export const resourceTag = (resourceId: string, shard = shardOf(resourceId)) =>
  `${shardTag(shard)}:r:${resourceId}`;

export interface RedisSettings {
  redisUrl: string;
  /** prefix of every key (no braces), default 'ml:' */
  redisKeyPrefix: string;
}

export const redisEnv = envSchema(
  {
    REDIS_URL: env.url(['redis', 'rediss'], { secret: true }),
    REDIS_KEY_PREFIX: env.string({ default: 'ml:' }),
  },
  (e): RedisSettings => ({ redisUrl: e.REDIS_URL, redisKeyPrefix: e.REDIS_KEY_PREFIX }),
);
