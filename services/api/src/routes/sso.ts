/** Heroku SSO: the form Heroku POSTs opens a dashboard session for one resource. */
import { ssoReplayKey, verifySsoLogin } from '@meterline/heroku';
import type { FastifyInstance } from 'fastify';
import { renderMessage } from '../dashboard/render.ts';
import type { ApiDeps } from '../deps.ts';

export const SESSION_COOKIE = 'meterline_session';
/** The SSO window (300 s) plus the allowed clock skew (60 s): a key older than that is refused by time anyway. */
const REPLAY_KEEP_SECONDS = 360;
/** A session of the legacy sha1 token: it names no verified person, so the access list cannot end it; it
 * lasts no longer than the list may be stale, and Heroku's SSO opens the next one. */
const UNVERIFIED_SESSION_MINUTES = 5;

export async function ssoRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.post('/sso/login', async (request, reply) => {
    const fields = (request.body ?? {}) as Record<string, unknown>;
    const now = deps.now();
    const login = verifySsoLogin(fields, { salt: deps.config.ssoSalt, now });
    const refuse = (outcome: string, reason: string) => {
      deps.metrics.sso.inc({ outcome });
      deps.log.info({ outcome, reason, resourceId: fields.resource_id }, 'sso login refused');
      return reply
        .code(403)
        .type('text/html; charset=utf-8')
        .send(
          renderMessage(
            'Sign-in refused',
            'This sign-in link is not valid or has expired. Open the add-on again from Heroku.',
          ),
        );
    };
    if (!login.ok) return refuse('refused', login.reason);
    const resource = /^[0-9a-f-]{36}$/i.test(login.resourceId)
      ? await deps.resources.get(login.resourceId)
      : null;
    if (!resource || (resource.state !== 'provisioned' && resource.state !== 'provisioning')) {
      return refuse('unknown_resource', 'no live resource with this id');
    }
    // A captured form must not open a second session: each (resource, timestamp) signs in once.
    const fresh = await deps.redis.set(`api:${ssoReplayKey(fields)}`, '1', 'EX', REPLAY_KEEP_SECONDS, 'NX');
    if (fresh === null) return refuse('replay', 'this SSO timestamp was already used');

    // A hard lifetime: sessions are never extended (SESSION_TTL_MINUTES, at most 12 hours).
    const ttlMinutes = login.emailVerified
      ? deps.config.sessionTtlMinutes
      : Math.min(UNVERIFIED_SESSION_MINUTES, deps.config.sessionTtlMinutes);
    const expiresAt = now + ttlMinutes * 60_000;
    const token = await deps.sessions.open(
      {
        resourceId: resource.id,
        email: login.email,
        emailVerified: login.emailVerified,
        userId: login.userId ?? null,
        expiresAt,
      },
      now,
    );
    const secure = deps.config.cookieSecure ?? request.protocol === 'https';
    const cookie = {
      path: '/',
      httpOnly: true,
      sameSite: 'lax' as const,
      secure,
      maxAge: ttlMinutes * 60,
    };
    reply.setCookie(SESSION_COOKIE, token, cookie);
    if (login.navData) reply.setCookie('heroku-nav-data', login.navData, { ...cookie, httpOnly: false });
    deps.metrics.sso.inc({ outcome: 'ok' });
    deps.log.info({ resourceId: resource.id, token: login.token }, 'sso login');
    return reply.redirect('/dashboard', 303);
  });
}
