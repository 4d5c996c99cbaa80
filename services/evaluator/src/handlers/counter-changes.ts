import type { AlertOutbox, DecidedAlert, FlagStore } from '@meterline/alerts';
import type { Batch } from '@meterline/kafka';
import { type CounterChange, type ResourceDirectory, readCounterChanges } from '@meterline/metering';
import type { Resource } from '@meterline/resources';
import {
  computePlanFlag,
  type DowngradeRule,
  evaluateUsage,
  findPlan,
  type PaceGuards,
  type PlanCatalog,
  periodOf,
} from '@meterline/rules';
import type { Logger } from '@meterline/runtime';
import type { CurrentUsage } from '../usage.ts';

export interface EvaluationDeps {
  catalog: PlanCatalog;
  directory: ResourceDirectory;
  usage: CurrentUsage;
  outbox: AlertOutbox;
  flags: FlagStore;
  paceGuards: PaceGuards;
  downgradeRule: DowngradeRule;
  clock: () => number;
  log: Logger;
  /** after alerts or flags were recorded: publish them now */
  publish: () => Promise<void>;
  /** fault injection for the crash test: called once new alerts are recorded, before publishing */
  afterRecord?: () => void;
  /** sees every change read (the latency metric) */
  onChange?: (change: CounterChange) => void;
}

/** One batch of counter changes: judge each moved counter against the resource's current plan,
 * record the new alerts (outbox), refresh the downgrade flags, then publish. Only the latest total
 * of each (resource, metric, period) in the batch matters. */
export async function handleCounterChanges(deps: EvaluationDeps, batch: Batch): Promise<void> {
  const latest = new Map<string, CounterChange>();
  for (const m of batch.messages) {
    if (!m.value) continue;
    const { changes, bad } = readCounterChanges(m.value);
    if (bad > 0)
      // Only the ingestor writes this topic; a bad record is a bug to see in the logs, not a reason to stall.
      deps.log.error(
        { offset: m.offset, partition: batch.partition, bad },
        'unreadable counter change(s) skipped',
      );
    for (const change of changes) {
      deps.onChange?.(change);
      const k = `${change.resourceId}|${change.metric}|${change.periodKey}`;
      const seen = latest.get(k);
      if (!seen || change.used >= seen.used) latest.set(k, change);
    }
  }
  await evaluateChanges(deps, [...latest.values()]);
}

export async function evaluateChanges(deps: EvaluationDeps, changes: CounterChange[]): Promise<void> {
  if (changes.length === 0) return;
  const now = deps.clock();
  const resources = await deps.directory.getMany(
    changes.map((c) => c.resourceId),
    now,
  );
  await deps.outbox.prime(changes);
  const decided: DecidedAlert[] = [];
  const flagResources = new Set<string>();
  for (const change of changes) {
    deps.usage.note(change);
    const resource = resources.get(change.resourceId);
    if (resource?.state !== 'provisioned') continue;
    const plan = findPlan(deps.catalog, resource.plan);
    if (!plan) {
      deps.log.warn(
        { resourceId: resource.id, plan: resource.plan },
        'resource on a plan the catalog does not have',
      );
      continue;
    }
    const period = periodOf(Date.parse(`${change.periodKey}-01T00:00:00Z`));
    const activeFrom = activeFromOf(resource);
    for (const d of evaluateUsage({
      resourceId: resource.id,
      plan,
      metric: change.metric,
      used: change.used,
      period,
      now,
      ...(activeFrom !== undefined ? { activeFrom } : {}),
      alreadyAlerted: (kind, tier) =>
        deps.outbox.isAlerted(resource.id, change.metric, change.periodKey, kind, tier),
      guards: deps.paceGuards,
    })) {
      decided.push({
        ...d,
        resourceId: resource.id,
        plan: plan.name,
        metric: change.metric,
        period,
        occurredAt: now,
      });
    }
    if (period.key === periodOf(now).key) flagResources.add(resource.id);
  }
  if ((await deps.outbox.record(decided)) > 0) deps.afterRecord?.();
  await deps.flags.prime([...flagResources]);
  await Promise.all([...flagResources].map((id) => refreshFlag(deps, resources.get(id)!, now)));
  await deps.publish();
}

/** Recomputes one resource's downgrade flag from its current-period usage. */
export async function refreshFlag(deps: EvaluationDeps, resource: Resource, now: number): Promise<boolean> {
  const plan = findPlan(deps.catalog, resource.plan);
  if (!plan) return false;
  const period = periodOf(now);
  const usage = await deps.usage.get(resource.id, period.key);
  const activeFrom = activeFromOf(resource);
  const state = computePlanFlag({
    catalog: deps.catalog,
    currentPlan: plan,
    usage,
    period,
    now,
    ...(activeFrom !== undefined ? { activeFrom } : {}),
    rule: deps.downgradeRule,
  });
  return deps.flags.update(resource.id, state, now);
}

const activeFromOf = (r: Resource) => r.provisionedAt ?? undefined;
