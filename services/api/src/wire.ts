import { ApiKeys, AuditLog, ConsoleSessions, SessionStore, TeamAccess } from '@meterline/access';
import { createPool } from '@meterline/db';
import { createPlatformClient, type HerokuPlatform } from '@meterline/heroku';
import { CounterStore } from '@meterline/metering';
import { AccessStore, PlatformJobs, ResourceStore, Sealer, TokenVault } from '@meterline/resources';
import type { Logger, Shutdown } from '@meterline/runtime';
import { startServiceBase } from '@meterline/service';
import type { ApiConfig } from './config.ts';
import type { ApiDeps } from './deps.ts';
import { buildHttp } from './http.ts';
import { LiveFeed } from './live/feed.ts';
import { apiMetrics } from './metrics.ts';
import { PlatformWorker } from './platform-worker.ts';
import { TokenBuckets } from './rate-limit.ts';

const MINUTE = 60_000;
const SIGN_IN_WINDOW = 15 * MINUTE;

export interface RunningApi {
  port: number;
  url: string;
  shutdown: Shutdown;
  worker: PlatformWorker;
  deps: ApiDeps;
  stop(): Promise<boolean>;
}

export interface ApiOptions {
  /** The business clock; tests move it to roll a billing period over. */
  now?: () => number;
  /** A Platform API client; by default the real one at HEROKU_API_URL / HEROKU_ID_URL. */
  platform?: HerokuPlatform;
}

/** The api's composition root: builds every dependency once, serves HTTP, runs the Platform API worker. */
export async function startApi(
  config: ApiConfig,
  log: Logger,
  options: ApiOptions = {},
): Promise<RunningApi> {
  const base = await startServiceBase({
    name: 'api',
    log,
    database: config,
    plansFile: config.plansFile,
    redis: config,
  });
  const { pool, redis, catalog, registry } = base;
  const sealer = new Sealer(config.tokenEncryptionKey);
  const reports = createPool(config.databaseUrl, {
    ...(config.databaseSchema ? { schema: config.databaseSchema } : {}),
    max: 2,
    application: 'meterline-api-reports',
    readOnly: true,
    workMem: '256MB',
  });
  const deps: ApiDeps = {
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
    metrics: apiMetrics(registry),
    // Joins its group on the first live subscriber only.
    live: config.live ? new LiveFeed(config.live, log.child({ component: 'live' })) : null,
    limits: {
      partner: new TokenBuckets({ capacity: config.partnerRatePerMinute, windowMs: MINUTE }),
      partnerAuthFailures: new TokenBuckets({ capacity: config.partnerRatePerMinute, windowMs: MINUTE }),
      signInEmail: new TokenBuckets({ capacity: config.signInAttemptsPerEmail, windowMs: SIGN_IN_WINDOW }),
      signInIp: new TokenBuckets({ capacity: config.signInAttemptsPerIp, windowMs: SIGN_IN_WINDOW }),
    },
  };

  const app = await buildHttp(deps, registry, base.readiness);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const worker = new PlatformWorker(deps);
  worker.start();
  // The api serves /healthz, /readyz and /metrics on its own port.
  const { shutdown, stop } = await base.running(null, [
    ['stop accepting and finish requests', () => app.close()],
    ['stop platform worker', () => worker.stop()],
    ['close the reports pool', () => reports.end()],
    ['stop the live feed', async () => deps.live?.stop()],
  ]);

  log.info(
    {
      port,
      mode: config.provisioningMode,
      catalog: catalog.version,
      plans: catalog.plans.map((p) => p.name),
    },
    'api started',
  );
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    shutdown,
    worker,
    deps,
    stop,
  };
}
