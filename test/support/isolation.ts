import { randomBytes } from 'node:crypto';
import { createPool, migrate, type Pool } from '@meterline/db';
import { createKafka, defaultTopics, ensureTopics, type Topics, topicLayout } from '@meterline/kafka';
import { createRedis, type Redis, scanKeys } from '@meterline/redis';
import { createLogger } from '@meterline/runtime';
import { type ServiceUrls, serviceUrls } from './services.ts';

/** One isolated world per test file: its own Postgres schema, Redis key prefix, topics and
 * consumer groups, so test files run in parallel and in any order without colliding. */
export interface TestWorld {
  id: string;
  schema: string;
  keyPrefix: string;
  topics: Topics;
  groupPrefix: string;
  urls: Awaited<ReturnType<typeof serviceUrls>>;
  pool: Pool;
  redis: Redis;
  /** Environment for a service process started inside this world. */
  env: Record<string, string>;
  /** Deletes every Redis key of this world (what Redis losing its data looks like from inside it);
   * returns how many. */
  flushRedis(): Promise<number>;
  close(): Promise<void>;
}

/** `urls` puts the world on other servers than the shared ones (the fault suite's own, which it restarts). */
export async function createTestWorld(
  name: string,
  opts: { partitions?: number; urls?: ServiceUrls } = {},
): Promise<TestWorld> {
  const urls = opts.urls ?? (await serviceUrls());
  const id = `${name
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .slice(0, 20)}_${randomBytes(4).toString('hex')}`;
  const schema = `t_${id}`;
  const keyPrefix = `t:${id}:`;
  const topics = Object.fromEntries(
    Object.entries(defaultTopics).map(([k, v]) => [k, `${v}.${id}`]),
  ) as unknown as Topics;
  const pool = createPool(urls.databaseUrl, { schema, max: 5 });
  await migrate(pool, { schema });
  const redis = createRedis(urls.redisAddress, { keyPrefix });
  const log = createLogger('test', { level: 'warn' });
  const kafka = createKafka({ brokers: urls.kafkaBrokers, clientId: `test-${id}` }, log);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, topicLayout(topics, opts.partitions ?? 3));
  await admin.disconnect();
  const env: Record<string, string> = {
    KAFKA_BROKERS: urls.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: urls.registryUrl,
    // One of the two (a blank one counts as unset, over whatever the parent's environment holds).
    REDIS_URL: typeof urls.redisAddress === 'string' ? urls.redisAddress : '',
    REDIS_CLUSTER_NODES:
      typeof urls.redisAddress === 'string' ? '' : urls.redisAddress.clusterNodes.join(','),
    REDIS_KEY_PREFIX: keyPrefix,
    DATABASE_URL: urls.databaseUrl,
    DATABASE_SCHEMA: schema,
    SMTP_URL: urls.smtpUrl,
    TOPIC_USAGE_EVENTS: topics.usageEvents,
    TOPIC_USAGE_DLQ: topics.dlq,
    TOPIC_USAGE_ALERTS: topics.alerts,
    TOPIC_PLAN_FLAGS: topics.flags,
    TOPIC_USAGE_COUNTERS: topics.counters,
    CONSUMER_GROUP_PREFIX: `t-${id}-`,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    // The services' Kafka client library: KAFKA_CLIENT=platformatic runs a suite on @platformatic/kafka.
    KAFKA_CLIENT: process.env.KAFKA_CLIENT ?? 'kafkajs',
  };
  const flushRedis = async () => {
    // SCAN and UNLINK on full key names: ioredis does not prefix SCAN patterns. One UNLINK per key: on
    // a Cluster one of keys in several slots is refused (autopipelining batches them).
    const raw = createRedis(urls.redisAddress);
    let deleted = 0;
    try {
      for await (const batch of scanKeys(raw, `${keyPrefix}*`)) {
        for (const n of await Promise.all(batch.map((key) => raw.unlink(key)))) deleted += n;
      }
    } finally {
      raw.disconnect();
    }
    return deleted;
  };
  return {
    id,
    schema,
    keyPrefix,
    topics,
    groupPrefix: `t-${id}-`,
    urls,
    pool,
    redis,
    env,
    flushRedis,
    async close() {
      await flushRedis();
      redis.disconnect();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await pool.end();
      // The world's topics go too, so a long-lived broker does not collect them run after run.
      const cleaner = kafka.admin();
      await cleaner.connect();
      await cleaner.deleteTopics({ topics: Object.values(topics), timeout: 10_000 }).catch(() => {});
      await cleaner.disconnect();
    },
  };
}
