import { periodOf } from '@meterline/rules';
import { type EvaluationDeps, evaluateChanges, refreshFlag } from './counter-changes.ts';

/** A provision, plan change or deprovision (the api's change notification): judges the resource's usage
 * of this period again under its plan now, and refreshes its flag when it has no usage yet. */
export async function reevaluateResource(deps: EvaluationDeps, id: string): Promise<void> {
  const now = deps.clock();
  const resource = (await deps.directory.getMany([id], now)).get(id);
  if (!resource) return;
  const period = periodOf(now);
  deps.usage.forget(id);
  const usage = await deps.usage.get(id, period.key);
  await evaluateChanges(
    deps,
    Object.entries(usage).map(([metric, used]) => ({
      resourceId: id,
      plan: resource.plan,
      metric,
      periodKey: period.key,
      used,
      at: now,
      firstEventAt: now,
    })),
  );
  if (Object.keys(usage).length === 0 && resource.state === 'provisioned')
    await refreshFlag(deps, resource, now);
  await deps.publish();
}
