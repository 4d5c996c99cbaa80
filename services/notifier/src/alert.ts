import type { AlertForEmail } from '@meterline/notifications';
import type { UsageAlert } from '@meterline/schemas';

/** A decoded UsageAlert as plain values: timestamp-millis fields may decode as Date or number. */
export function alertFromRecord(record: UsageAlert): AlertForEmail {
  const millis = (v: unknown) => (v instanceof Date ? v.getTime() : Number(v));
  return {
    id: record.id,
    resourceId: record.resourceId,
    plan: record.plan,
    metric: record.metric,
    kind: record.kind,
    threshold: record.threshold,
    severity: record.severity,
    used: record.used,
    limit: record.limit,
    percent: record.percent,
    projected: record.projected ?? null,
    periodStart: millis(record.periodStart),
    periodEnd: millis(record.periodEnd),
    occurredAt: millis(record.occurredAt),
  };
}
