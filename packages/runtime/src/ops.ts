import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** Every service's /healthz, /readyz and /metrics. */
export interface Readiness {
  /** Named checks; each resolves when the dependency answers, rejects otherwise. */
  checks: Record<string, () => Promise<unknown>>;
  /** false while starting and once shutdown begins. */
  accepting: () => boolean;
}

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export async function readinessReport(
  readiness: Readiness,
): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  let ready = readiness.accepting();
  if (!ready) checks.service = 'not accepting (starting or stopping)';
  await Promise.all(
    Object.entries(readiness.checks).map(async ([name, check]) => {
      try {
        await withTimeout(check(), 2000);
        checks[name] = 'ok';
      } catch (err) {
        ready = false;
        checks[name] = err instanceof Error ? err.message : String(err);
      }
    }),
  );
  return { ready, checks };
}

/** Answers an ops route, or returns false when the path is not one. Usable from any node:http handler. */
export async function handleOpsRequest(
  req: IncomingMessage,
  res: ServerResponse,
  registry: Registry,
  readiness: Readiness,
): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz') {
    send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
  } else if (path === '/readyz') {
    const report = await readinessReport(readiness);
    send(res, report.ready ? 200 : 503, 'application/json', JSON.stringify(report));
  } else if (path === '/metrics') {
    send(res, 200, registry.contentType, await registry.metrics());
  } else {
    return false;
  }
  return true;
}

export interface OpsServer {
  server: Server;
  /** the port it listens on (the one asked for, or the one the OS picked for 0) */
  port: number;
  close(): Promise<void>;
}

export function startOpsServer(opts: {
  port: number;
  host?: string;
  registry: Registry;
  readiness: Readiness;
}): Promise<OpsServer> {
  const server = createServer((req, res) => {
    handleOpsRequest(req, res, opts.registry, opts.readiness)
      .then((handled) => {
        if (!handled) send(res, 404, 'application/json', JSON.stringify({ message: 'not found' }));
      })
      .catch((err: unknown) => send(res, 500, 'application/json', JSON.stringify({ message: String(err) })));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      const address = server.address();
      resolve({
        server,
        port: typeof address === 'object' && address ? address.port : opts.port,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
