import type { Pool } from '@meterline/db';
import { type LedgerDay, ledgerDays, ledgerHoursOfDays } from '@meterline/metering';
import { type PlanHistory, planAt, ResourceStore } from '@meterline/resources';
import { DEFAULT_PACE_GUARDS, type DowngradeRule, type PaceGuards, type PlanCatalog } from '@meterline/rules';
import { AbuseDetector, type AbuseRule, type AbuseSignal, DEFAULT_ABUSE_RULE } from './abuse.ts';
import { daysToDrill, replayRows } from './days.ts';
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
  /** Resources whose drilled days are read together (default 250). */
  batchSize?: number;
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
  /** Ledger hours covered, rows replayed (hours of drilled days, one per other day), resources, time. */
  rows: number;
  replayedRows: number;
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
  planChanges: h.changes.map((c) => c.at),
});

/** Groups rows (ordered by resource) by resource. */
function byResource<T extends { resourceId: string }>(rows: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const list = out.get(r.resourceId);
    if (list) list.push(r);
    else out.set(r.resourceId, [r]);
  }
  return out;
}

/** One batch of resources, read: each one's days, and the hours of the days that need them. */
interface ReadBatch {
  days: Map<string, LedgerDay[]>;
  drilled: Map<string, Set<string>>;
  hours: Map<string, UsageHour[]>;
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
  let replayedRows = 0;
  let resources = 0;
  const guards = { ...DEFAULT_PACE_GUARDS, ...o.guards };
  const replayOpts = { asOf, guards };
  const window = { start: periods[0]!.start, end: periods.at(-1)!.end };
  const catalogs = [o.current, o.proposed];

  // Postgres sums the window's hours per day; only the days where something can happen are read hour by
  // hour (daysToDrill), a batch of resources at a time, the next batches while this one is replayed.
  const allDays = await ledgerDays(pool, window);
  const read = async (ids: string[]): Promise<ReadBatch> => {
    const days = new Map<string, LedgerDay[]>();
    for (const id of ids) {
      const list = allDays.get(id);
      if (list) days.set(id, list);
    }
    const drilled = new Map<string, Set<string>>();
    const wanted: { resourceId: string; metric: string; day: number }[] = [];
    for (const [id, list] of days) {
      const set = daysToDrill(timelineOf(histories.get(id)!), list, catalogs, replayOpts);
      drilled.set(id, set);
      for (const k of set) {
        const [metric, day] = k.split('|') as [string, string];
        wanted.push({ resourceId: id, metric, day: Number(day) });
      }
    }
    const hours = new Map<string, UsageHour[]>();
    for (const [id, list] of byResource(await ledgerHoursOfDays(pool, wanted)))
      hours.set(
        id,
        list.map((h) => ({ metric: h.metric, hour: h.hour, quantity: h.quantity })),
      );
    return { days, drilled, hours };
  };
  const ids = [...histories.keys()].sort();
  const batchSize = o.batchSize ?? 250;
  const batches: string[][] = [];
  for (let i = 0; i < ids.length; i += batchSize) batches.push(ids.slice(i, i + batchSize));
  // Two batches in flight: Postgres adds up one on each core while this process replays the last.
  // (A read that fails while an earlier one is awaited is reported when its turn comes, not as unhandled.)
  const start = (ids: string[]) => {
    const p = read(ids);
    p.catch(() => {});
    return p;
  };
  const inFlight = batches.slice(0, 2).map(start);
  for (let i = 0; i < batches.length; i++) {
    const batch = await inFlight[i]!;
    if (i + 2 < batches.length) inFlight.push(start(batches[i + 2]!));
    for (const [id, days] of batch.days) {
      const timeline = timelineOf(histories.get(id)!);
      const hours = replayRows(days, batch.drilled.get(id)!, batch.hours.get(id) ?? []);
      resources++;
      replayedRows += hours.length;
      for (const d of days) rows += d.hours;
      const usage = usageByPeriod(timeline, hours, { periods, asOf });
      for (const u of usage) if (!proposedNames.has(u.plan)) missing.add(u.plan);
      const current: ReplayedAlert[] = replayAlerts(timeline, hours, o.current, replayOpts);
      for (const a of current) currentAlerts.set(a.id, a.periodKey);
      builders.current.add(timeline, usage, current);
      builders.proposed.add(timeline, usage, replayAlerts(timeline, hours, o.proposed, replayOpts));
      abuse.add(id, usage);
    }
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
    replayedRows,
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
