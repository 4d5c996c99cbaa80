/** The Add-on Partner API decisions: thin glue between Heroku's requests, the rules packages and the store. */
import {
  decideProvision,
  type PlanChangeRequest,
  type ProvisionHistoryEntry,
  type ProvisionRequest,
} from '@meterline/heroku';
import { ledgerTotals } from '@meterline/metering';
import { type Answer, recordEvent } from '@meterline/resources';
import { DAY, downgradeCheck, findPlan, periodOf } from '@meterline/rules';
import type { ApiDeps } from './deps.ts';

/** How far back earlier resources count for the abuse rule, which has no time limit of its own. */
const ABUSE_LOOKBACK_DAYS = 90;

/** The config vars handed to the app; deterministic, so a repeated provision answers the same. */
export function configVarsFor(deps: ApiDeps, resourceId: string): Record<string, string> {
  return { [`${deps.config.configVarsPrefix}_RESOURCE_ID`]: resourceId };
}

export async function provision(deps: ApiDeps, request: ProvisionRequest): Promise<Answer> {
  const { config, catalog, resources, now: clock, metrics } = deps;
  const earlier = await resources.answerOf(request.uuid);
  if (earlier) {
    metrics.partner.inc({ outcome: 'repeat' });
    return earlier;
  }
  const now = clock();
  const plan = findPlan(catalog, request.plan);
  // Async mode learns the app, owner and history from the Platform API and decides again then; here only the
  // rules that need none of that can refuse. Whether the requester may install a hidden plan is one of those facts.
  const willDecideLater = config.provisioningMode === 'async' && request.oauthGrant !== null;
  const decision = decideProvision({
    plan: request.plan,
    planExists: plan !== undefined,
    planHidden: plan?.hidden ?? false,
    requesterMayInstallHidden: willDecideLater,
    region: request.region,
    appId: null,
    ownerId: null,
    history: [],
    now,
    policy: config.provisionPolicy,
  });

  let answer: Answer;
  let created: boolean;
  if (!decision.allowed) {
    answer = { status: 422, body: { message: decision.message } };
    created = await resources.create({
      request,
      state: 'refused',
      now,
      answer,
      event: {
        kind: 'provision_refused',
        detail: { mode: 'sync', code: decision.code, message: decision.message },
      },
      job: null,
    });
    metrics.partner.inc({ outcome: 'provision_refused' });
  } else if (willDecideLater) {
    answer = {
      status: 202,
      body: {
        id: request.uuid,
        message: `Your ${plan!.displayName} plan is being set up and will be ready in a few moments.`,
      },
    };
    created = await resources.create({
      request,
      state: 'provisioning',
      now,
      answer,
      event: null,
      job: { kind: 'async_provision', grantSealed: deps.sealer.seal(request.oauthGrant!.code) },
    });
    metrics.partner.inc({ outcome: 'provisioning' });
  } else {
    answer = {
      status: 200,
      body: {
        id: request.uuid,
        config: configVarsFor(deps, request.uuid),
        message: `Your ${plan!.displayName} plan is ready. Its usage dashboard opens from the add-on's page on Heroku.`,
      },
    };
    created = await resources.create({
      request,
      state: 'provisioned',
      now,
      answer,
      event: {
        kind: 'provision',
        detail: { mode: config.provisioningMode === 'async' ? 'async-without-grant' : 'sync' },
      },
      // The access list comes from the Platform API in both modes: the grant is exchanged in the background.
      job: request.oauthGrant
        ? { kind: 'access_sync', grantSealed: deps.sealer.seal(request.oauthGrant.code) }
        : null,
    });
    metrics.partner.inc({ outcome: 'provisioned' });
  }
  // A concurrent repeat of the same uuid won the insert: answer what it answered.
  if (!created) return (await resources.answerOf(request.uuid)) ?? answer;
  deps.log.info(
    { resourceId: request.uuid, plan: request.plan, status: answer.status },
    'provision answered',
  );
  return answer;
}

export async function changePlan(
  deps: ApiDeps,
  resourceId: string,
  request: PlanChangeRequest,
): Promise<Answer> {
  const { catalog, counters, metrics } = deps;
  const target = findPlan(catalog, request.plan);
  return deps.resources.withLocked(resourceId, async (resource, client) => {
    if (!resource || resource.state === 'deprovisioned' || resource.state === 'refused') {
      metrics.partner.inc({ outcome: 'plan_change_unknown' });
      return { status: 404, body: { message: `There is no active add-on resource ${resourceId}.` } };
    }
    if (!target) {
      metrics.partner.inc({ outcome: 'plan_change_unknown_plan' });
      return {
        status: 422,
        body: {
          message: `There is no plan named "${request.plan}". Choose one of the plans listed on the add-on's marketplace page.`,
        },
      };
    }
    if (target.name === resource.plan) {
      return {
        status: 200,
        body: { message: `You are already on the ${target.displayName} plan; nothing changed.` },
      };
    }
    const now = deps.now();
    const current = findPlan(catalog, resource.plan);
    // A plan that left the catalog cannot be compared: the move is accepted, so no customer is stuck on it.
    if (current && target.rank < current.rank) {
      const period = periodOf(now);
      const usage = await counters.periodUsage(resourceId, period.key);
      const decision = downgradeCheck({
        catalog,
        currentPlan: current,
        targetPlan: target,
        usage,
        period,
        now,
        activeFrom: resource.provisionedAt ?? undefined,
        rule: deps.config.downgradeRule,
      });
      if (!decision.allowed) {
        await recordEvent(
          client,
          resourceId,
          'plan_change_refused',
          now,
          { message: decision.message, exceeded: decision.exceeded, allowedFrom: decision.allowedFrom },
          { from: resource.plan, to: target.name },
        );
        metrics.partner.inc({ outcome: 'downgrade_refused' });
        deps.log.info({ resourceId, from: resource.plan, to: target.name }, 'downgrade refused');
        return { status: 422, body: { message: decision.message } };
      }
    }
    await deps.resources.setPlan(client, resource, target.name, now, {
      direction: current && target.rank < current.rank ? 'down' : 'up',
    });
    metrics.partner.inc({ outcome: 'plan_changed' });
    deps.log.info({ resourceId, from: resource.plan, to: target.name }, 'plan changed');
    return {
      status: 200,
      body: {
        config: configVarsFor(deps, resourceId),
        message: `Moved from the ${current?.displayName ?? resource.plan} plan to the ${target.displayName} plan; its limits apply from now.`,
      },
    };
  });
}

export async function deprovision(deps: ApiDeps, resourceId: string): Promise<Answer> {
  const changed = await deps.resources.deprovision(resourceId, deps.now());
  deps.metrics.partner.inc({ outcome: changed ? 'deprovisioned' : 'deprovision_repeat' });
  if (changed) deps.log.info({ resourceId }, 'deprovisioned');
  return { status: 204, body: {} };
}

/**
 * The async decision's facts about earlier resources of the same app or owner, over a window long enough
 * for both the churn and the abuse rule: when each was provisioned and removed, and the highest share of
 * an allowance it used over its life (from the durable usage ledger).
 */
export async function provisionHistory(
  deps: ApiDeps,
  app: { appId: string | null; ownerId: string | null },
  excludeId: string,
  now: number,
): Promise<ProvisionHistoryEntry[]> {
  const days = Math.max(deps.config.provisionPolicy.churnWindowDays, ABUSE_LOOKBACK_DAYS);
  const related = await deps.resources.related(app.appId, app.ownerId, excludeId, now - days * DAY);
  if (related.length === 0) return [];
  const usage = await ledgerTotals(deps.pool, { resourceIds: related.map((r) => r.id) });
  return related.map((r) => {
    const limits = findPlan(deps.catalog, r.plan)?.limits ?? {};
    let maxUsedPercent = 0;
    for (const [metric, used] of Object.entries(usage.get(r.id) ?? {})) {
      const limit = limits[metric];
      if (limit && limit > 0) maxUsedPercent = Math.max(maxUsedPercent, (used / limit) * 100);
    }
    return {
      resourceId: r.id,
      appId: r.appId,
      ownerId: r.ownerId,
      provisionedAt: r.provisionedAt!,
      deprovisionedAt: r.deprovisionedAt,
      maxUsedPercent,
    };
  });
}
