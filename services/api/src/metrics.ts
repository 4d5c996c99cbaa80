import { Counter, Gauge, Histogram, type Registry } from '@meterline/runtime';
import type { PipelineHealthReport } from './pipeline-health.ts';

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

/**
 * The pipeline health figures (pipeline-health.ts) as gauges, read at each scrape. They describe the
 * whole pipeline, not this process: every api instance reports the same values, so a dashboard takes
 * max() over instances. A figure whose source did not answer is left out, and its source's
 * `meterline_health_source_up` is 0.
 */
export function healthMetrics(registry: Registry, read: () => Promise<PipelineHealthReport>) {
  const up = new Gauge({
    name: 'meterline_health_source_up',
    help: 'Whether the api could read the pipeline health source at the last scrape (kafka, dlq, postgres, redis)',
    labelNames: ['source'] as const,
    registers: [registry],
    async collect() {
      const r = await read();
      this.reset();
      if (r.kafka) {
        this.set({ source: 'kafka' }, r.kafka.groups.every((g) => g.lag.ok) ? 1 : 0);
        this.set({ source: 'dlq' }, r.kafka.dlq.ok ? 1 : 0);
      }
      this.set({ source: 'postgres' }, r.deliveries.ok ? 1 : 0);
      this.set({ source: 'redis' }, r.redis.ok ? 1 : 0);
    },
  });
  const lag = new Gauge({
    name: 'meterline_consumer_lag',
    help: "Records of a topic partition a Meterline consumer group has not yet done: the partition's end offset minus the group's committed offset",
    labelNames: ['group', 'service', 'topic', 'partition'] as const,
    registers: [registry],
    async collect() {
      const r = await read();
      this.reset();
      for (const { lag } of r.kafka?.groups ?? []) {
        if (!lag.ok) continue;
        const { groupId: group, service, topic } = lag.value;
        for (const p of lag.value.partitions)
          this.set({ group, service, topic, partition: String(p.partition) }, p.lag);
      }
    },
  });
  const dlq = new Gauge({
    name: 'meterline_dlq_window_records',
    help: 'Records on the DLQ topic with a timestamp in the last hour, by dlq-reason (read from the topic)',
    labelNames: ['reason'] as const,
    registers: [registry],
    async collect() {
      const r = await read();
      this.reset();
      if (r.kafka?.dlq.ok)
        for (const x of r.kafka.dlq.value.reasons) this.set({ reason: x.reason }, x.records);
    },
  });
  const deliveries = new Gauge({
    name: 'meterline_deliveries',
    help: 'Email deliveries by state: pending (not yet sent or refused), retrying (pending after a failed attempt), failed (refused for good, ever)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const r = await read();
      this.reset();
      if (!r.deliveries.ok) return;
      const { pending, retrying, failed } = r.deliveries.value;
      this.set({ state: 'pending' }, pending);
      this.set({ state: 'retrying' }, retrying);
      this.set({ state: 'failed' }, failed);
    },
  });
  const oldestPending = new Gauge({
    name: 'meterline_delivery_oldest_pending_seconds',
    help: 'Age of the oldest pending email delivery (0 when none is pending)',
    registers: [registry],
    async collect() {
      const r = await read();
      this.reset();
      if (!r.deliveries.ok) return;
      const oldest = r.deliveries.value.oldestPendingAt;
      this.set(oldest ? Math.max(0, (r.at - oldest.getTime()) / 1000) : 0);
    },
  });
  const redisMemory = new Gauge({
    name: 'meterline_redis_memory_bytes',
    help: 'Redis memory from INFO memory: used (used_memory), rss, peak, max (maxmemory; absent when unlimited)',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const r = await read();
      this.reset();
      if (!r.redis.ok) return;
      const m = r.redis.value;
      this.set({ kind: 'used' }, m.usedBytes);
      this.set({ kind: 'rss' }, m.rssBytes);
      this.set({ kind: 'peak' }, m.peakBytes);
      if (m.maxBytes !== null) this.set({ kind: 'max' }, m.maxBytes);
    },
  });
  return { up, lag, dlq, deliveries, oldestPending, redisMemory };
}
