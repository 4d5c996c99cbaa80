/** The Grafana dashboard and the Prometheus scrape config import as they are: the dashboard is a
 * Grafana dashboard with a Prometheus data source variable, and every panel's PromQL names metrics the
 * services really register (collected from their metrics modules, on fresh registries). */
import { readFileSync } from 'node:fs';
import { apiMetrics, healthMetrics, readApiConfig } from '@meterline/api';
import { evaluatorMetrics, readEvaluatorConfig } from '@meterline/evaluator';
import { ingestorMetrics, readIngestorConfig, resourceCacheGauge } from '@meterline/ingestor';
import { notifierMetrics, readNotifierConfig } from '@meterline/notifier';
import { createMetricsRegistry } from '@meterline/runtime';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const here = new URL('./', import.meta.url);

/** Every series name the four services expose (a histogram's _bucket, _sum and _count included). */
async function registeredNames(): Promise<Set<string>> {
  const registries = ['api', 'ingestor', 'evaluator', 'notifier'].map((s) => createMetricsRegistry(s));
  const [api, ingestor, evaluator, notifier] = registries as [
    ReturnType<typeof createMetricsRegistry>,
    ...ReturnType<typeof createMetricsRegistry>[],
  ];
  apiMetrics(api);
  healthMetrics(api, async () => ({
    at: 0,
    kafka: null,
    deliveries: { ok: false, error: 'not read' },
    redis: { ok: false, error: 'not read' },
  }));
  ingestorMetrics(ingestor!);
  resourceCacheGauge(ingestor!, () => ({ known: 0, missing: 0 }));
  evaluatorMetrics(evaluator!);
  notifierMetrics(notifier!);
  const names = new Set<string>();
  for (const registry of registries)
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram')
        for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s);
    }
  return names;
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'le',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression selects: identifiers that are not functions, keywords, label
 * matchers, grouping labels, ranges or strings. */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)) {
    if (m[2] || KEYWORDS.has(m[1]!.toLowerCase())) continue;
    names.push(m[1]!);
  }
  return names;
}

interface Panel {
  id: number;
  title: string;
  type: string;
  datasource: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets: { refId: string; expr: string; datasource: { type: string; uid: string } }[];
}

describe('infra/observability/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(readFileSync(new URL('grafana-dashboard.json', here), 'utf8')) as {
    uid: string;
    title: string;
    schemaVersion: number;
    templating: { list: { name: string; type: string; query: string }[] };
    panels: Panel[];
  };

  it('is a dashboard Grafana imports, its panels on a Prometheus data source variable', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    expect(dashboard.panels.length).toBeGreaterThan(5);
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const p of dashboard.panels) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.datasource, p.title).toEqual(p.datasource);
    }
  });

  it("names in each panel's PromQL only metrics the services register", async () => {
    const registered = await registeredNames();
    expect(registered.has('meterline_consumer_lag')).toBe(true);
    for (const p of dashboard.panels)
      for (const t of p.targets) {
        const names = metricNamesIn(t.expr);
        expect(names.length, `${p.title}: ${t.expr}`).toBeGreaterThan(0);
        for (const name of names) expect(registered.has(name), `${p.title}: ${name}`).toBe(true);
      }
    // The figures of pipeline health are all on the dashboard.
    const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNamesIn(t.expr))));
    for (const name of [
      'meterline_consumer_lag',
      'meterline_ingest_dlq_total',
      'meterline_dlq_window_records',
      'meterline_deliveries',
      'meterline_redis_memory_bytes',
    ])
      expect(used.has(name), name).toBe(true);
  });

  it('reads metric names out of PromQL', () => {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (le) (rate(meterline_alert_latency_seconds_bucket{service="x"}[5m])))',
      ),
    ).toEqual(['meterline_alert_latency_seconds_bucket']);
    expect(metricNamesIn('max by (group, partition) (a_metric) / on (group) b_metric')).toEqual([
      'a_metric',
      'b_metric',
    ]);
  });
});

describe('infra/observability/prometheus.yml', () => {
  it('scrapes each service on the ops port its configuration defaults to', () => {
    const config = parse(readFileSync(new URL('prometheus.yml', here), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = Object.fromEntries(
      config.scrape_configs.map((j) => [j.job_name, j.static_configs.flatMap((s) => s.targets)]),
    );
    const env = {
      KAFKA_BROKERS: '127.0.0.1:19092',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
      REDIS_URL: 'redis://127.0.0.1:6379',
      DATABASE_URL: 'postgres://127.0.0.1/meterline',
      PLANS_FILE: 'plans.yaml',
      SMTP_URL: 'smtp://127.0.0.1:1025',
      EMAIL_FROM: 'a@example.test',
      API_TOKEN: 't',
      HEROKU_ADDON_ID: 'a',
      HEROKU_ADDON_PASSWORD: 'p',
      HEROKU_SSO_SALT: 's',
      HEROKU_OAUTH_CLIENT_SECRET: 'o',
      TOKEN_ENCRYPTION_KEY: 'a-key-of-sixteen-chars',
    };
    expect(targets).toEqual({
      'meterline-api': [`127.0.0.1:${readApiConfig(env).opsPort}`],
      'meterline-ingestor': [`127.0.0.1:${readIngestorConfig(env).opsPort}`],
      'meterline-evaluator': [`127.0.0.1:${readEvaluatorConfig(env).opsPort}`],
      'meterline-notifier': [`127.0.0.1:${readNotifierConfig(env).opsPort}`],
    });
  });
});
