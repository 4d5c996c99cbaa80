import { Counter, Histogram, type Registry } from '@meterline/runtime';

export function apiMetrics(registry: Registry) {
  return {
    requests: new Histogram({
      name: 'meterline_api_request_seconds',
      help: 'HTTP requests handled, by route and status',
      labelNames: ['route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    partner: new Counter({
      name: 'meterline_api_partner_outcomes_total',
      help: 'Add-on Partner API outcomes (provisioned, provisioning, refused, plan_changed, downgrade_refused, deprovisioned ...)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    platformJobs: new Counter({
      name: 'meterline_api_platform_jobs_total',
      help: 'Platform API jobs run, by kind and outcome (done, retry, failed)',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'meterline_api_rate_limited_total',
      help: 'Requests answered 429, by limit (partner, partner_auth_failures, sign_in_email, sign_in_ip)',
      labelNames: ['limit'],
      registers: [registry],
    }),
    sso: new Counter({
      name: 'meterline_api_sso_logins_total',
      help: 'SSO logins, by outcome (ok, refused, replay, unknown_resource)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

export type ApiMetrics = ReturnType<typeof apiMetrics>;
