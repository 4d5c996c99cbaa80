import type { CounterChange } from '@meterline/metering';
import { Counter, Histogram, type Registry } from '@meterline/runtime';
import type { PlanFlag, UsageAlert } from '@meterline/schemas';

/** The evaluator's metrics: what it published, and how long from a counter change's oldest event to its
 * alert published (the change's `firstEventAt`, noted as the change is read). */
export function evaluatorMetrics(registry: Registry) {
  const published = new Counter({
    name: 'meterline_alerts_published_total',
    help: 'UsageAlert records published, by kind and severity',
    labelNames: ['kind', 'severity'],
    registers: [registry],
  });
  const flagsPublished = new Counter({
    name: 'meterline_flags_published_total',
    help: 'PlanFlag records published',
    registers: [registry],
  });
  const alertLatency = new Histogram({
    name: 'meterline_alert_latency_seconds',
    help: 'From the oldest event of a counter change to its alert published',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const firstEventAt = new Map<string, number>();
  return {
    changeRead(c: CounterChange) {
      firstEventAt.set(`${c.resourceId}|${c.metric}`, c.firstEventAt);
    },
    /** The batch is done: its changes' times are not needed any more. */
    batchDone() {
      firstEventAt.clear();
    },
    alertPublished(a: UsageAlert) {
      published.inc({ kind: a.kind, severity: a.severity });
      const first = firstEventAt.get(`${a.resourceId}|${a.metric}`);
      if (first !== undefined) alertLatency.observe(Math.max(0, Date.now() - first) / 1000);
    },
    flagsPublished(flags: PlanFlag[]) {
      flagsPublished.inc(flags.length);
    },
  };
}
