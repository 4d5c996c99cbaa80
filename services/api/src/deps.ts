import { ApiKeys, AuditLog, ConsoleSessions, SessionStore, TeamAccess } from '@meterline/access';
import { createPool, type Pool } from '@meterline/db';
import { createPlatformClient, type HerokuPlatform } from '@meterline/heroku';
import { CounterStore } from '@meterline/metering';
import type { Redis } from '@meterline/redis';
import { AccessStore, PlatformJobs, ResourceStore, Sealer, TokenVault } from '@meterline/resources';
import type { PlanCatalog } from '@meterline/rules';
import type { Logger, Registry } from '@meterline/runtime';
import type { ApiConfig } from './config.ts';
import { LiveFeed } from './live/feed.ts';
import { type ApiMetrics, apiMetrics, healthMetrics } from './metrics.ts';
import { PipelineHealth } from './pipeline-health.ts';
import { TokenBuckets } from './rate-limit.ts';

const MINUTE = 60_000;
const SIGN_IN_WINDOW = 15 * MINUTE;

/** Everything the routes and workers use, built once in wire.ts. */
export interface ApiDeps {
  config: ApiConfig;
  log: Logger;
  /** The business clock (periods, SSO windows, sessions, history): injectable so tests can roll a month over. */
  now: () => number;
  catalog: PlanCatalog;
  pool: Pool;
  /** A read-only pool for reports over the store (the plan advisor's back-test): Postgres refuses writes. */
  reports: Pool;
  redis: Redis;
  counters: CounterStore;
  resources: ResourceStore;
  tokens: TokenVault;
  access: AccessStore;
  jobs: PlatformJobs;
  sessions: SessionStore;
  team: TeamAccess;
  consoleSessions: ConsoleSessions;
  audit: AuditLog;
  apiKeys: ApiKeys;
  sealer: Sealer;
  platform: HerokuPlatform;
  metrics: ApiMetrics;
  /** The console's pipeline health figures, also the health gauges of /metrics (ADR 0018). */
  health: PipelineHealth;
  /** The live page's reader of the alert topics; null when Kafka is not configured (ADR 0019). */
  live: LiveFeed | null;
  /** Rate limits, per instance (ADR 0017). */
  limits: {
    /** Partner API, per authenticated client */
    partner: TokenBuckets;
    /** Partner API requests whose Basic auth failed, per address */
    partnerAuthFailures: TokenBuckets;
    /** console sign-in, per email */
    signInEmail: TokenBuckets;
    /** console sign-in and sign-up, per address */
    signInIp: TokenBuckets;
  };
}

export interface ApiOptions {
  /** The business clock; tests move it to roll a billing period over. */
  now?: () => number;
  /** A Platform API client; by default the real one at HEROKU_API_URL / HEROKU_ID_URL. */
  platform?: HerokuPlatform;
}

/** Builds every store, client and limit the routes and the Platform API worker share. */
export function buildApiDeps(
  config: ApiConfig,
  base: { pool: Pool; redis: Redis; catalog: PlanCatalog; registry: Registry; log: Logger },
  options: ApiOptions,
): ApiDeps {
  const { pool, redis, catalog, log } = base;
  const sealer = new Sealer(config.tokenEncryptionKey);
  const reports = createPool(config.databaseUrl, {
    ...(config.databaseSchema ? { schema: config.databaseSchema } : {}),
    max: 2,
    application: 'meterline-api-reports',
    readOnly: true,
    workMem: '256MB',
  });
  const health = new PipelineHealth({ pool, redis, kafka: config.pipelineKafka, log });
  healthMetrics(base.registry, () => health.read());
  const perMinute = (capacity: number) => new TokenBuckets({ capacity, windowMs: MINUTE });
  const perSignInWindow = (capacity: number) => new TokenBuckets({ capacity, windowMs: SIGN_IN_WINDOW });
  return {
    config,
    log,
    now: options.now ?? Date.now,
    catalog,
    pool,
    reports,
    redis,
    // The api only reads counters; the settings matter to writers.
    counters: new CounterStore(redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 }),
    resources: new ResourceStore(pool),
    tokens: new TokenVault(pool, sealer),
    access: new AccessStore(pool),
    jobs: new PlatformJobs(pool),
    sessions: new SessionStore(pool),
    team: new TeamAccess(pool),
    consoleSessions: new ConsoleSessions(pool),
    audit: new AuditLog(pool),
    apiKeys: new ApiKeys(pool),
    sealer,
    platform:
      options.platform ??
      createPlatformClient({
        apiUrl: config.herokuApiUrl,
        idUrl: config.herokuIdUrl,
        clientSecret: config.oauthClientSecret,
      }),
    metrics: apiMetrics(base.registry),
    health,
    // Joins its group on the first live subscriber only.
    live: config.live ? new LiveFeed(config.live, log.child({ component: 'live' })) : null,
    limits: {
      partner: perMinute(config.partnerRatePerMinute),
      partnerAuthFailures: perMinute(config.partnerRatePerMinute),
      signInEmail: perSignInWindow(config.signInAttemptsPerEmail),
      signInIp: perSignInWindow(config.signInAttemptsPerIp),
    },
  };
}
