import { loadCatalog } from '@meterline/catalog';
import { createPool, migrate, type Pool } from '@meterline/db';
import { connectKafka, type Kafka, type KafkaServiceSettings } from '@meterline/kafka';
import { createRedis, type Redis, type RedisAddress } from '@meterline/redis';
import type { PlanCatalog } from '@meterline/rules';
import {
  createMetricsRegistry,
  type Logger,
  type Readiness,
  type Registry,
  Shutdown,
  startOpsServer,
} from '@meterline/runtime';

/** What a service asks the skeleton for. */
export interface ServiceParts {
  /** 'ingestor', 'evaluator', ...: names the pool's application, the Redis and Kafka clients, the metrics. */
  name: string;
  log: Logger;
  database: { databaseUrl: string; databaseSchema: string | undefined; poolMax?: number };
  /** Loads (and stores) the plan catalog named by PLANS_FILE (given but unset: stops naming PLANS_FILE). */
  plansFile?: string | undefined;
  redis?: { redisAddress: RedisAddress; redisKeyPrefix: string };
  /** Connects to Kafka, creating the service's topics that are missing. */
  kafka?: Pick<KafkaServiceSettings, 'kafkaBrokers' | 'kafkaSecurity' | 'topics'> &
    Partial<Pick<KafkaServiceSettings, 'client'>>;
}

/** A part is built when the service names it (its key is present). */
type Has<P, K extends keyof ServiceParts, T> = K extends keyof P ? T : Partial<T>;

/** What the skeleton built, and how the service says it is running. */
export type ServiceBase<P extends ServiceParts = ServiceParts> = {
  log: Logger;
  registry: Registry;
  pool: Pool;
  /** Whether the service takes work, and its dependencies' checks: what /readyz reports. */
  readiness: Readiness;
  /**
   * Starts the ops server (/healthz, /readyz with Postgres and Redis, /metrics) on `opsPort` (null: the
   * service serves them itself), marks the service ready, and states the shutdown order: not ready ->
   * the service's own `steps`, in order -> close the ops server -> close Redis -> close Postgres.
   */
  running<Port extends number | null>(
    opsPort: Port,
    steps: [name: string, run: () => unknown][],
  ): Promise<{ shutdown: Shutdown; opsPort: Port; stop(): Promise<boolean> }>;
} & Has<P, 'plansFile', { catalog: PlanCatalog }> &
  Has<P, 'redis', { redis: Redis }> &
  Has<P, 'kafka', { kafka: Kafka }>;

export async function startServiceBase<P extends ServiceParts>(parts: P): Promise<ServiceBase<P>> {
  const { name, log, database } = parts;
  const pool = createPool(database.databaseUrl, {
    schema: database.databaseSchema,
    application: `meterline-${name}`,
    ...(database.poolMax ? { max: database.poolMax } : {}),
  });
  await migrate(pool, { schema: database.databaseSchema });
  const catalog = 'plansFile' in parts ? await loadCatalog(pool, parts.plansFile) : undefined;
  const redis = parts.redis
    ? createRedis(parts.redis.redisAddress, {
        keyPrefix: parts.redis.redisKeyPrefix,
        name: `meterline-${name}`,
      })
    : undefined;
  const kafka = parts.kafka ? await connectKafka(parts.kafka, `meterline-${name}`, log) : undefined;
  const registry = createMetricsRegistry(name);
  let accepting = false;
  const checks: Record<string, () => Promise<unknown>> = { postgres: () => pool.query('SELECT 1') };
  if (redis) checks.redis = () => redis.ping();
  const readiness: Readiness = { accepting: () => accepting, checks };

  const base = {
    log,
    registry,
    pool,
    catalog,
    redis,
    kafka,
    readiness,
    async running(opsPort: number | null, steps: [string, () => unknown][]) {
      const ops = opsPort === null ? null : await startOpsServer({ port: opsPort, registry, readiness });
      const shutdown = new Shutdown(log).add('not ready', () => {
        accepting = false;
      });
      for (const [step, run] of steps) shutdown.add(step, run);
      if (ops) shutdown.add('close ops server', () => ops.close());
      if (redis) shutdown.add('close redis', () => redis.quit());
      shutdown.add('close postgres', () => pool.end());
      accepting = true;
      return { shutdown, opsPort: ops?.port ?? null, stop: () => shutdown.run('stop') };
    },
  };
  return base as unknown as ServiceBase<P>;
}

/** A consumer service as its composition root returns it: tests and `main.ts` stop it, wait for its
 * consumer group to be joined, and find its ops port. */
export interface RunningService {
  shutdown: Shutdown;
  opsPort: number;
  joined: Promise<void>;
  stop(): Promise<boolean>;
}
