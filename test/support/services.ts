import { existsSync, readFileSync } from 'node:fs';
import type { RedisAddress } from '@meterline/redis';

/** Where the real services are. Order: the environment; the settings `pnpm infra:up` wrote to
 * .infra/env; containers started with testcontainers when Docker is there. A missing service is
 * always a failure with a message saying how to start it, never a skip. */
export interface ServiceUrls {
  kafkaBrokers: string[];
  registryUrl: string;
  /** the single Redis server (REDIS_URL) */
  redisUrl: string;
  /** the Redis the tests count into: the single server, or with METERLINE_REDIS=cluster the local
   * Redis Cluster (REDIS_CLUSTER_LOCAL_NODES, started by `infra/up.sh --redis-cluster`; ADR 0020) */
  redisAddress: RedisAddress;
  /** the local Redis Cluster's nodes (REDIS_CLUSTER_LOCAL_NODES), null when it is not up */
  redisClusterNodes: string[] | null;
  databaseUrl: string;
  smtpUrl: string;
}

const repoRoot = new URL('../../', import.meta.url);

function infraEnv(): Record<string, string> {
  const file = new URL('.infra/env', repoRoot);
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  }
  return out;
}

let cached: Promise<ServiceUrls> | null = null;

export function serviceUrls(): Promise<ServiceUrls> {
  cached ??= discover();
  return cached;
}

async function discover(): Promise<ServiceUrls> {
  const file = infraEnv();
  const pick = (name: string) => process.env[name] || file[name];
  const found = {
    KAFKA_BROKERS: pick('KAFKA_BROKERS'),
    SCHEMA_REGISTRY_URL: pick('SCHEMA_REGISTRY_URL'),
    REDIS_URL: pick('REDIS_URL'),
    DATABASE_URL: pick('DATABASE_URL'),
    SMTP_URL: pick('SMTP_URL'),
  };
  const missing = Object.entries(found)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0 && process.env.CI !== 'true' && (await dockerAvailable())) {
    Object.assign(found, await startContainers(missing));
  }
  const still = Object.entries(found)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (still.length > 0) {
    throw new Error(
      `tests need real services but ${still.join(', ')} ${still.length > 1 ? 'are' : 'is'} not set: ` +
        'run `pnpm infra:up` (or export the variables, or start Docker for testcontainers)',
    );
  }
  let redisAddress: RedisAddress = found.REDIS_URL!;
  const nodes = pick('REDIS_CLUSTER_LOCAL_NODES');
  if (process.env.METERLINE_REDIS === 'cluster') {
    if (!nodes)
      throw new Error(
        'METERLINE_REDIS=cluster but REDIS_CLUSTER_LOCAL_NODES is not set: run `bash infra/up.sh --redis-cluster`',
      );
    redisAddress = { clusterNodes: nodes.split(',') };
  } else if (process.env.METERLINE_REDIS) {
    throw new Error(
      `METERLINE_REDIS must be unset or cluster, got ${JSON.stringify(process.env.METERLINE_REDIS)}`,
    );
  }
  return {
    kafkaBrokers: found.KAFKA_BROKERS!.split(','),
    registryUrl: found.SCHEMA_REGISTRY_URL!,
    redisUrl: found.REDIS_URL!,
    redisAddress,
    redisClusterNodes: nodes ? nodes.split(',') : null,
    databaseUrl: found.DATABASE_URL!,
    smtpUrl: found.SMTP_URL!,
  };
}

async function dockerAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/** The same services as infra/docker-compose.yml, as throwaway containers. */
async function startContainers(missing: string[]): Promise<Record<string, string>> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const out: Record<string, string> = {};
  if (missing.includes('DATABASE_URL')) {
    const c = await new GenericContainer('postgres:15')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'meterline' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/ready to accept connections/, 2))
      .start();
    out.DATABASE_URL = `postgres://postgres@${c.getHost()}:${c.getMappedPort(5432)}/meterline`;
  }
  if (missing.includes('REDIS_URL')) {
    const c = await new GenericContainer('redis:7').withExposedPorts(6379).start();
    out.REDIS_URL = `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
  }
  if (missing.includes('KAFKA_BROKERS')) {
    // Fixed host port so the advertised listener matches what the client dials.
    const c = await new GenericContainer('apache/kafka:4.4.0')
      .withEnvironment({
        KAFKA_NODE_ID: '1',
        KAFKA_PROCESS_ROLES: 'broker,controller',
        KAFKA_LISTENERS: 'PLAINTEXT://:19092,CONTROLLER://:19093',
        KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:19092',
        KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
        KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:19093',
        KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
        KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
        KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      })
      .withExposedPorts({ container: 19092, host: 19092 })
      .withWaitStrategy(Wait.forListeningPorts())
      .start();
    out.KAFKA_BROKERS = `${c.getHost()}:19092`;
  }
  if (missing.includes('SCHEMA_REGISTRY_URL')) {
    const c = await new GenericContainer('apicurio/apicurio-registry:3.3.3').withExposedPorts(8080).start();
    out.SCHEMA_REGISTRY_URL = `http://${c.getHost()}:${c.getMappedPort(8080)}/apis/ccompat/v7`;
  }
  if (missing.includes('SMTP_URL')) {
    const c = await new GenericContainer('maildev/maildev:2.2.1').withExposedPorts(1025, 1080).start();
    out.SMTP_URL = `smtp://${c.getHost()}:${c.getMappedPort(1025)}`;
  }
  return out;
}

/** The broker's SASL_PLAINTEXT listener (PLAIN) and its development user, as `pnpm infra:up` opens it
 * (ADR 0023). Missing is a failure, never a skip. */
export interface SaslListener {
  brokers: string[];
  mechanism: string;
  username: string;
  password: string;
}

export function saslListener(): SaslListener {
  const file = infraEnv();
  const pick = (name: string) => process.env[name] || file[name];
  const brokers = pick('KAFKA_SASL_LISTENER_BROKERS');
  const mechanism = pick('KAFKA_SASL_LISTENER_MECHANISM');
  const username = pick('KAFKA_SASL_LISTENER_USERNAME');
  const password = pick('KAFKA_SASL_LISTENER_PASSWORD');
  if (!brokers || !mechanism || !username || !password)
    throw new Error(
      'tests need the SASL listener but KAFKA_SASL_LISTENER_* are not set: restart Kafka with ' +
        '`pnpm infra:down && pnpm infra:up` (a broker started before the listener existed has none)',
    );
  return { brokers: brokers.split(','), mechanism, username, password };
}

/** The broker's SSL listener (TLS, a self-signed development certificate for 127.0.0.1) and the PEM
 * file that trusts it, as `pnpm infra:up` opens it (ADR 0023). Missing is a failure, never a skip. */
export interface SslListener {
  brokers: string[];
  caFile: string;
}

export function sslListener(): SslListener {
  const file = infraEnv();
  const pick = (name: string) => process.env[name] || file[name];
  const brokers = pick('KAFKA_SSL_LISTENER_BROKERS');
  const caFile = pick('KAFKA_SSL_LISTENER_CA_FILE');
  if (!brokers || !caFile)
    throw new Error(
      'tests need the SSL listener but KAFKA_SSL_LISTENER_* are not set: restart Kafka with ' +
        '`pnpm infra:down && pnpm infra:up` (a broker started before the listener existed has none)',
    );
  return { brokers: brokers.split(','), caFile };
}
