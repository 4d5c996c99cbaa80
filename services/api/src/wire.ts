import type { Logger, Shutdown } from '@meterline/runtime';
import { startServiceBase } from '@meterline/service';
import type { ApiConfig } from './config.ts';
import { type ApiDeps, type ApiOptions, buildApiDeps } from './deps.ts';
import { buildHttp } from './http.ts';
import { PlatformWorker } from './platform-worker.ts';

export interface RunningApi {
  port: number;
  url: string;
  /** /healthz, /readyz and /metrics (API_OPS_PORT, on loopback) */
  opsPort: number;
  opsUrl: string;
  shutdown: Shutdown;
  worker: PlatformWorker;
  deps: ApiDeps;
  stop(): Promise<boolean>;
}

/** The api's composition root: builds every dependency once, serves HTTP, runs the Platform API worker. */
export async function startApi(
  config: ApiConfig,
  log: Logger,
  options: ApiOptions = {},
): Promise<RunningApi> {
  const base = await startServiceBase({
    ...{ name: 'api', log, database: config, plansFile: config.plansFile },
    redis: config,
  });
  const deps = buildApiDeps(config, base, options);
  const app = await buildHttp(deps);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const worker = new PlatformWorker(deps);
  worker.start();
  const { shutdown, stop, opsPort } = await base.running(config.opsPort, [
    ['stop accepting and finish requests', () => app.close()],
    ['stop platform worker', () => worker.stop()],
    ['close the reports pool', () => deps.reports.end()],
    ['stop reading pipeline health', () => deps.health.stop()],
    ['stop the live feed', async () => deps.live?.stop()],
  ]);
  const { catalog } = base;
  const plans = catalog.plans.map((p) => p.name);
  log.info({ port, opsPort, mode: config.provisioningMode, catalog: catalog.version, plans }, 'api started');
  const loopback = (p: number) => `http://127.0.0.1:${p}`;
  return { port, url: loopback(port), opsPort, opsUrl: loopback(opsPort), shutdown, worker, deps, stop };
}
