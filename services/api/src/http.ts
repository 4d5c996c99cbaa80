import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ApiDeps } from './deps.ts';
import { consoleRoutes } from './routes/console.ts';
import { dashboardRoutes } from './routes/dashboard.ts';
import { partnerRoutes } from './routes/partner.ts';
import { ssoRoutes } from './routes/sso.ts';
import { securityHeaders } from './security-headers.ts';

/** The api's public HTTP surface: Partner API, SSO, dashboard, usage JSON, console, and /healthz.
 * /readyz and /metrics are on the ops port only (ADR 0018). */
export async function buildHttp(deps: ApiDeps): Promise<FastifyInstance> {
  // Only behind a proxy (TRUST_PROXY) do X-Forwarded-For/-Proto give the client's address (audit log) and
  // protocol (Secure cookie); otherwise any client could claim them.
  const app = Fastify({ logger: false, trustProxy: deps.config.trustProxy });
  securityHeaders(app);
  await app.register(cookie);
  await app.register(formbody);
  // application/json and Heroku's vendor media types (+json). An empty body is no body (undefined): a route
  // that takes none (DELETE) must not fail on the header alone, and one that needs a body refuses the
  // missing one with its own 4xx message.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    /^application\/(?:[\w.+-]*\+)?json(?:\s*;|\s*$)/i,
    { parseAs: 'string' },
    (request, body, done) => {
      const text = body.toString();
      if (text.trim() === '') return done(null, undefined);
      parseJson(request, text, done);
    },
  );

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status < 500) {
      const message =
        err.code === 'FST_ERR_CTP_INVALID_JSON' || err instanceof SyntaxError
          ? `the request body is not valid JSON: ${err.message}`
          : err.message;
      return reply.code(status).send({ message });
    }
    deps.log.error({ err, method: request.method, url: request.url }, 'request failed');
    return reply.code(500).send({ message: 'Something went wrong on our side; please try again.' });
  });

  // Postgres text cannot hold NUL: a body, query or path carrying one is refused before a route sees it
  // (else the first INSERT of it fails as a 5xx).
  app.addHook('preValidation', async (request, reply) => {
    if (holdsNul(request.body) || holdsNul(request.query) || holdsNul(request.params))
      return reply
        .code(400)
        .send({ message: 'text in the request may not contain NUL (\\u0000) characters' });
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.requests.observe({ route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (route === '/healthz') return;
    deps.log.info(
      {
        method: request.method,
        route,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
        id: (request.params as { id?: string })?.id,
      },
      'request',
    );
  });

  // Liveness stays public: a router's or load balancer's check reaches only this port, and the answer
  // says nothing about the dependencies (ADR 0018).
  app.get('/healthz', async () => ({ status: 'ok' }));
  await app.register(async (scope) => partnerRoutes(scope, deps));
  await app.register(async (scope) => ssoRoutes(scope, deps));
  await app.register(async (scope) => dashboardRoutes(scope, deps));
  await app.register(async (scope) => consoleRoutes(scope, deps));
  return app;
}

/** Whether any string in `value` (nested objects and arrays, walked without recursion) holds a NUL. */
function holdsNul(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return true;
    } else if (Array.isArray(v)) pending.push(...v);
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) pending.push(k, x);
  }
  return false;
}
