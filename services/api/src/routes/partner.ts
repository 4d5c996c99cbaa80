/** The Heroku Add-on Partner API v3: provision, plan change, deprovision, behind the manifest's Basic auth. */
import { checkBasicAuth, parsePlanChangeRequest, parseProvisionRequest } from '@meterline/heroku';
import { type Answer, UUID } from '@meterline/resources';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { changePlan, deprovision, provision } from '../partner.ts';
import { tooManyRequests } from '../rate-limit.ts';

function send(reply: FastifyReply, answer: Answer) {
  return answer.status === 204 ? reply.code(204).send() : reply.code(answer.status).send(answer.body);
}

export async function partnerRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  // onRequest runs before the body is parsed: a caller without credentials learns nothing about its body.
  app.addHook('onRequest', async (request, reply) => {
    const authenticated = checkBasicAuth(
      request.headers.authorization,
      deps.config.addonId,
      deps.config.addonPasswords,
    );
    // The client's own bucket is taken only once its password matched, so that nobody who merely knows the
    // add-on id can spend it; guesses are limited per address. A deprovision is never refused (DESIGN
    // rule 8), by a limit neither.
    const limit = authenticated ? 'partner' : 'partner_auth_failures';
    const taken = !authenticated
      ? deps.limits.partnerAuthFailures.take(request.ip)
      : request.method === 'DELETE'
        ? null
        : deps.limits.partner.take(deps.config.addonId);
    if (taken && !taken.ok) {
      deps.metrics.rateLimited.inc({ limit });
      return tooManyRequests(
        reply,
        taken.retryAfterSeconds,
        authenticated
          ? `More than ${deps.config.partnerRatePerMinute} Partner API requests a minute from this add-on.`
          : 'Too many requests with wrong credentials from this address.',
      );
    }
    if (!authenticated) {
      return reply
        .code(401)
        .header('www-authenticate', 'Basic realm="meterline"')
        .send({ message: 'The add-on id and password do not match the manifest.' });
    }
  });

  app.post('/heroku/resources', async (request, reply) => {
    const parsed = parseProvisionRequest(request.body);
    if (!parsed.ok) return reply.code(400).send({ message: parsed.message });
    return send(reply, await provision(deps, parsed.value));
  });

  app.put<{ Params: { id: string } }>('/heroku/resources/:id', async (request, reply) => {
    const parsed = parsePlanChangeRequest(request.body);
    if (!parsed.ok) return reply.code(400).send({ message: parsed.message });
    const { id } = request.params;
    if (!UUID.test(id)) return reply.code(404).send({ message: `There is no active add-on resource ${id}.` });
    return send(reply, await changePlan(deps, id.toLowerCase(), parsed.value));
  });

  app.delete<{ Params: { id: string } }>('/heroku/resources/:id', async (request, reply) => {
    const { id } = request.params;
    // Never refused (DESIGN rule 8): an id we never saw is already gone.
    if (!UUID.test(id)) return reply.code(204).send();
    return send(reply, await deprovision(deps, id.toLowerCase()));
  });
}
