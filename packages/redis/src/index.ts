import { env, envSchema } from '@meterline/runtime';
import { Cluster, Redis } from 'ioredis';

export { type RedisMemory, redisMemory } from './memory.ts';
export { Redis };

/** Where Redis is: one server's URL, or the seed nodes (host:port) of a Redis Cluster (ADR 0020). */
export type RedisAddress = string | { clusterNodes: string[] };

/** A Redis client: one server, or a Redis Cluster behind the same interface (ioredis routes each
 * command by its keys' slot; a script's or a MULTI's keys share one resource's or shard's hash tag).
 * `keyPrefix` isolates a test run; it must not contain braces, so each resource's hash tag stays the
 * first {...} of the key and the design runs unchanged on Redis Cluster. Code that must see every node
 * (SCAN, INFO) goes through `masters`. */
export function createRedis(address: RedisAddress, opts: { keyPrefix?: string; name?: string } = {}): Redis {
  if (opts.keyPrefix && /[{}]/.test(opts.keyPrefix))
    throw new Error('REDIS key prefix must not contain braces');
  if (typeof address !== 'string') {
    const nodes = address.clusterNodes.map((hp) => {
      const colon = hp.lastIndexOf(':');
      return { host: hp.slice(0, colon), port: Number(hp.slice(colon + 1)) };
    });
    const cluster = new Cluster(nodes, {
      keyPrefix: opts.keyPrefix ?? '',
      enableAutoPipelining: true,
      // Its own list (`defineVariadicScript` adds to it), not the shared default.
      autoPipeliningIgnoredCommands: [],
      redisOptions: { connectionName: opts.name ?? 'meterline', maxRetriesPerRequest: null },
    });
    // The commands the code uses are the same on both; what differs (nodes) is behind `masters`.
    return cluster as unknown as Redis;
  }
  return new Redis(address, {
    keyPrefix: opts.keyPrefix ?? '',
    connectionName: opts.name ?? 'meterline',
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    lazyConnect: false,
  });
}

/** Whether the client is a Redis Cluster's. */
export const isCluster = (redis: Redis): boolean => (redis as unknown) instanceof Cluster;

/** The clients of every master: the client itself for one server, each master node's for a Cluster
 * (node clients carry no key prefix). */
export function masters(redis: Redis): Redis[] {
  const client = redis as unknown as Redis | Cluster;
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Defines a script command whose first argument is its number of keys (`numberOfKeys` varies per
 * call). A Cluster's autopipelining groups a command by its first argument taken as a key, which for
 * such a call is the key count, not a key: the group then mixes slots and ioredis refuses it. On a
 * Cluster the command is sent on its own instead (ioredis routes it by its real keys). */
export function defineVariadicScript(redis: Redis, name: string, lua: string): void {
  redis.defineCommand(name, { lua });
  if (isCluster(redis)) redis.options.autoPipeliningIgnoredCommands?.push(name);
}

/** The key prefix the client adds to every key (SCAN patterns and answers carry full names). */
export const keyPrefixOf = (redis: Redis): string => redis.options.keyPrefix ?? '';

/** Full key names matching `match` (a SCAN pattern on full names), batch by batch, from every master. */
export async function* scanKeys(redis: Redis, match: string, count = 1000): AsyncGenerator<string[]> {
  for (const node of masters(redis)) {
    for await (const batch of node.scanStream({ match, count })) yield batch as string[];
  }
}

/** The Redis server's run_id (INFO server): another one means the server restarted or failed over since,
 * and may hold older data than was written to it (a snapshot; a replica promoted before it had every
 * write). For a Cluster, every master's, sorted and joined: any of them restarting changes it. null where
 * INFO does not tell it (some managed services hide it). */
export async function redisRunId(redis: Redis): Promise<string | null> {
  const ids = await Promise.all(
    masters(redis).map(async (node) => /^run_id:(\w+)/m.exec(await node.info('server'))?.[1] ?? null),
  );
  if (ids.some((id) => id === null)) return null;
  return ids.sort().join(',');
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
  /** REDIS_URL, or REDIS_CLUSTER_NODES for a Redis Cluster (exactly one of them is set) */
  redisAddress: RedisAddress;
  /** prefix of every key (no braces), default 'ml:' */
  redisKeyPrefix: string;
}

/** REDIS_URL names one server; REDIS_CLUSTER_NODES (host:port,...: some or all of its masters, the
 * client finds the rest) a Redis Cluster. One of them, not both. */
export const redisEnv = envSchema(
  {
    REDIS_URL: env.optionalUrl(['redis', 'rediss'], { secret: true }),
    REDIS_CLUSTER_NODES: env.optionalHostPorts(),
    REDIS_KEY_PREFIX: env.string({ default: 'ml:' }),
  },
  (e, ctx): RedisSettings => {
    if (e.REDIS_URL && e.REDIS_CLUSTER_NODES)
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_NODES'],
        message: 'set either REDIS_URL (one server) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
      });
    else if (!e.REDIS_URL && !e.REDIS_CLUSTER_NODES)
      ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'is required but not set' });
    const redisAddress: RedisAddress = e.REDIS_CLUSTER_NODES
      ? { clusterNodes: e.REDIS_CLUSTER_NODES }
      : (e.REDIS_URL ?? '');
    return { redisAddress, redisKeyPrefix: e.REDIS_KEY_PREFIX };
  },
);
