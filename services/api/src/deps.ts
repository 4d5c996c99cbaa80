import type { ApiKeys, AuditLog, ConsoleSessions, SessionStore, TeamAccess } from '@meterline/access';
import type { Pool } from '@meterline/db';
import type { HerokuPlatform } from '@meterline/heroku';
import type { CounterStore } from '@meterline/metering';
import type { Redis } from '@meterline/redis';
import type { AccessStore, PlatformJobs, ResourceStore, Sealer, TokenVault } from '@meterline/resources';
import type { PlanCatalog } from '@meterline/rules';
import type { Logger } from '@meterline/runtime';
import type { ApiConfig } from './config.ts';
import type { LiveFeed } from './live/feed.ts';
import type { ApiMetrics } from './metrics.ts';
import type { TokenBuckets } from './rate-limit.ts';

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
