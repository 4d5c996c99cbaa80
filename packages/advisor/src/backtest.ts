import type { Pool } from '@meterline/db';
import { type LedgerHour, ledgerHours } from '@meterline/metering';
import { type PlanHistory, planAt, ResourceStore } from '@meterline/resources';
import type { DowngradeRule, PaceGuards, PlanCatalog } from '@meterline/rules';
import { AbuseDetector, type AbuseRule, type AbuseSignal, DEFAULT_ABUSE_RULE } from './abuse.ts';
import {
  periodsBetween,
  type ReplayedAlert,
  type ResourceTimeline,
  replayAlerts,
  type UsageHour,
  usageByPeriod,
} from './replay.ts';
import { type CatalogOutcome, OutcomeBuilder } from './summary.ts';

export interface BacktestOptions {
  /** The catalog in force, and the one proposed. */
  current: PlanCatalog;
  proposed: PlanCatalog;
  /** Any time in the first and in the last period to replay (whole periods: a period's usage is
   * replayed from its first hour). */
  from: number;
  to: number;
  /** The time the replay stands at: usage after it is left out (default: now). */
  asOf?: number;
  guards?: Partial<PaceGuards>;
  downgradeRule?: Partial<DowngradeRule>;
  abuseRule?: AbuseRule;
  /** Ledger rows per read (default 50,000). */
  pageSize?: number;
}

/** A downgrade that the proposed catalog would decide differently at the end of the window. */
export interface DowngradeChange {
  resourceId: string;
  plan: string;
  /** The lower plans refused under each catalog. */
  current: string[];
  proposed: string[];
}

export interface BacktestReport {
  periods: string[];
  asOf: number;
  /** Ledger rows and resources replayed, and how long it took. */
  rows: number;
  resources: number;
  elapsedMs: number;
  current: CatalogOutcome;
  proposed: CatalogOutcome;
  /** Plans resources were on that the proposed catalog does not have (their usage is judged by none). */
  missingPlans: string[];
  downgradeChanges: DowngradeChange[];
  /** Outliers by the current catalog's plans, and the rule that found them. */
  abuse: AbuseSignal[];
  abuseRule: AbuseRule;
  /** The alerts the current catalog decides in the replay (id -> period key): what the pipeline recorded. */
  currentAlerts: Map<string, string>;
}

const timelineOf = (h: PlanHistory): ResourceTimeline => ({
  id: h.resource.id,
  provisionedAt: h.resource.provisionedAt,
  deprovisionedAt: h.resource.deprovisionedAt,
  live: h.resource.state === 'provisioned',
  planAt: (ts) => planAt(h, ts),
});

/** Yields each resource's rows in turn from the ledger's pages (a resource may span pages). */
async function* byResource(pages: AsyncIterable<LedgerHour[]>): AsyncGenerator<[string, UsageHour[]]> {
  let id: string | null = null;
  let rows: UsageHour[] = [];
  for await (const page of pages) {
    for (const r of page) {
      if (r.resourceId !== id) {
        if (id !== null) yield [id, rows];
        id = r.resourceId;
        rows = [];
      }
      rows.push({ metric: r.metric, hour: r.hour, quantity: r.quantity });
    }
  }
  if (id !== null) yield [id, rows];
}

/**
 * Replays the ledger's hourly usage of the window through the rules under both catalogs, resource by
 * resource, and reports them side by side. Reads only: resources, their plan history and the ledger,
 * through `pool` (give it a read-only pool); nothing is written anywhere, no alert is published and no
 * email is sent.
 */
export async function backtest(pool: Pool, o: BacktestOptions): Promise<BacktestReport> {
  const started = performance.now();
  const asOf = o.asOf ?? Date.now();
  const periods = periodsBetween(o.from, Math.min(o.to, asOf));
  if (periods.length === 0) throw new RangeError('backtest: the window holds no period before asOf');
  const lastPeriodKey = periods.at(-1)!.key;
  const histories = await new ResourceStore(pool).planHistories();
  const builders = {
    current: new OutcomeBuilder(o.current, {
      asOf,
      lastPeriodKey,
      ...(o.downgradeRule ? { rule: o.downgradeRule } : {}),
    }),
    proposed: new OutcomeBuilder(o.proposed, {
      asOf,
      lastPeriodKey,
      ...(o.downgradeRule ? { rule: o.downgradeRule } : {}),
    }),
  };
  const abuseRule = o.abuseRule ?? DEFAULT_ABUSE_RULE;
  const abuse = new AbuseDetector(o.current, abuseRule);
  const currentAlerts = new Map<string, string>();
  const proposedNames = new Set(o.proposed.plans.map((p) => p.name));
  const missing = new Set<string>();
  let rows = 0;
  let resources = 0;
  const replayOpts = { asOf, ...(o.guards ? { guards: o.guards } : {}) };

  const pages = ledgerHours(pool, {
    start: periods[0]!.start,
    end: periods.at(-1)!.end,
    pageSize: o.pageSize ?? 50_000,
  });
  for await (const [id, hours] of byResource(pages)) {
    const history = histories.get(id);
    if (!history) continue; // usage of a resource the api never recorded: the evaluator ignores it too
    rows += hours.length;
    resources++;
    const timeline = timelineOf(history);
    const usage = usageByPeriod(timeline, hours, { periods, asOf });
    for (const u of usage) if (!proposedNames.has(u.plan)) missing.add(u.plan);
    const current: ReplayedAlert[] = replayAlerts(timeline, hours, o.current, replayOpts);
    for (const a of current) currentAlerts.set(a.id, a.periodKey);
    builders.current.add(timeline, usage, current);
    builders.proposed.add(timeline, usage, replayAlerts(timeline, hours, o.proposed, replayOpts));
    abuse.add(id, usage);
  }

  const current = builders.current.build();
  const proposed = builders.proposed.build();
  const downgradeChanges: DowngradeChange[] = [];
  for (const id of new Set([...current.blockedDowngrades.keys(), ...proposed.blockedDowngrades.keys()])) {
    const a = current.blockedDowngrades.get(id) ?? [];
    const b = proposed.blockedDowngrades.get(id) ?? [];
    if (a.join(',') !== b.join(','))
      downgradeChanges.push({
        resourceId: id,
        plan: planAt(histories.get(id)!, asOf),
        current: a,
        proposed: b,
      });
  }
  return {
    periods: periods.map((p) => p.key),
    asOf,
    rows,
    resources,
    elapsedMs: Math.round(performance.now() - started),
    current,
    proposed,
    missingPlans: [...missing].sort(),
    downgradeChanges,
    abuse: abuse.signals(),
    abuseRule,
    currentAlerts,
  };
}

/** How far the replay of the current catalog matches the alerts the pipeline recorded: in the periods
 * that have recorded alerts, every recorded id reproduced and none invented. Periods without any (usage
 * written before the pipeline ran, such as imported history) can only be replayed, not checked. */
export interface RecordedCheck {
  /** The periods checked: those with recorded alerts. */
  periods: string[];
  recorded: number;
  reproduced: number;
  missing: string[];
  /** Alerts the replay decides in the checked periods that were not recorded. */
  extra: string[];
}

export function compareWithRecorded(
  replayed: ReadonlyMap<string, string>,
  recorded: readonly { id: string; periodKey: string }[],
): RecordedCheck {
  const ids = new Set(recorded.map((r) => r.id));
  const periods = [...new Set(recorded.map((r) => r.periodKey))].sort();
  const missing = [...ids].filter((id) => !replayed.has(id));
  const extra = [...replayed]
    .filter(([id, period]) => periods.includes(period) && !ids.has(id))
    .map(([id]) => id);
  return { periods, recorded: ids.size, reproduced: ids.size - missing.length, missing, extra };
}
