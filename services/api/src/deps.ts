import type { Pool } from '@meterline/db';
import type { HerokuPlatform } from '@meterline/heroku';
import type { CounterStore } from '@meterline/metering';
import type { Redis } from '@meterline/redis';
import type { PlanCatalog } from '@meterline/rules';
import type { Logger } from '@meterline/runtime';
import type { ApiConfig } from './config.ts';
import type { ApiMetrics } from './metrics.ts';
import type { AccessStore } from './store/access.ts';
import type { PlatformJobs } from './store/jobs.ts';
import type { ResourceStore } from './store/resources.ts';
import type { Sealer } from './store/seal.ts';
import type { SessionStore } from './store/sessions.ts';
import type { TokenVault } from './store/tokens.ts';

/** Everything the routes and workers use, built once in wire.ts. */
export interface ApiDeps {
  config: ApiConfig;
  log: Logger;
  /** The business clock (periods, SSO windows, sessions, history): injectable so tests can roll a month over. */
  now: () => number;
  catalog: PlanCatalog;
  pool: Pool;
  redis: Redis;
  counters: CounterStore;
  resources: ResourceStore;
  tokens: TokenVault;
  access: AccessStore;
  jobs: PlatformJobs;
  sessions: SessionStore;
  sealer: Sealer;
  platform: HerokuPlatform;
  metrics: ApiMetrics;
}
