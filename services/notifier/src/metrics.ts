import { Counter, Gauge, Histogram, type Registry } from '@meterline/runtime';

export function notifierMetrics(registry: Registry) {
  return {
    alerts: new Counter({
      name: 'meterline_notifier_alerts_total',
      help: 'Alerts read from usage.alerts.v1, by outcome (recorded, redelivered, undecodable)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'meterline_notifier_deliveries_total',
      help: 'Deliveries by what happened to them (recorded, refused, sent, failed, retried)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    refusals: new Counter({
      name: 'meterline_notifier_refusals_total',
      help: 'Provisions refused after their 202 whose people were told why (one notice each, ADR 0003)',
      registers: [registry],
    }),
    emails: new Counter({
      name: 'meterline_notifier_emails_total',
      help: 'Email send attempts by outcome (sent, failed, retry)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    sendSeconds: new Histogram({
      name: 'meterline_notifier_send_seconds',
      help: 'Time for one email to be accepted or refused by the SMTP server',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'meterline_notifier_pending_deliveries',
      help: 'Deliveries recorded and not yet sent or failed',
      registers: [registry],
    }),
  };
}

export type NotifierMetrics = ReturnType<typeof notifierMetrics>;
