/** What the console's client page shows of each of the client's add-ons this period: the usage
 * report, the ledger's days, the alerts and emails, and the downgrade flag. */
import { listAlerts, type StoredAlert, storedFlag } from '@meterline/alerts';
import { listNotifications, type NotificationRecord } from '@meterline/deliveries';
import { type LedgerDay, ledgerDays } from '@meterline/metering';
import type { Resource } from '@meterline/resources';
import type { PlanFlag } from '@meterline/schemas';
import type { ApiDeps } from './deps.ts';
import { type UsageReport, usageReport } from './usage-report.ts';

export interface ResourceUsage {
  resource: Resource;
  report: UsageReport;
  /** The ledger's days of this period, every metric. */
  days: LedgerDay[];
  alerts: StoredAlert[];
  emails: NotificationRecord[];
  flag: PlanFlag | null;
}

/** The usage of the client's provisioned add-ons (the ledger in one query for all of them). */
export async function clientUsage(deps: ApiDeps, resources: readonly Resource[]): Promise<ResourceUsage[]> {
  const live = resources.filter((r) => r.state === 'provisioned');
  if (live.length === 0) return [];
  const now = deps.now();
  const reportDeps = {
    catalog: deps.catalog,
    counters: deps.counters,
    downgradeRule: deps.config.downgradeRule,
  };
  const reports = await Promise.all(live.map((r) => usageReport(reportDeps, r, now)));
  const days = await ledgerDays(deps.pool, {
    start: reports[0]!.periodStart,
    end: reports[0]!.periodEnd,
    resourceIds: live.map((r) => r.id),
  });
  return Promise.all(
    live.map(async (resource, i) => {
      const report = reports[i]!;
      const [alerts, emails, flag] = await Promise.all([
        listAlerts(deps.pool, resource.id, { periodKey: report.periodKey }),
        listNotifications(deps.pool, resource.id, report.periodStart),
        storedFlag(deps.pool, resource.id),
      ]);
      return { resource, report, days: days.get(resource.id) ?? [], alerts, emails, flag };
    }),
  );
}
