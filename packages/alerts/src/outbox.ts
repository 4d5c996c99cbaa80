import { inTransaction, type Pool } from '@meterline/db';
import type { ContractCodec, Producer } from '@meterline/kafka';
import type { AlertDecision, Period } from '@meterline/rules';
import type { UsageAlert } from '@meterline/schemas';

export interface DecidedAlert extends AlertDecision {
  resourceId: string;
  plan: string;
  metric: string;
  period: Period;
  occurredAt: number;
}

/** The alerts outbox in Postgres. A decided alert is written under its crossing's unique key
 * (resource, metric, period, kind, tier) before anything is published, so a crash between deciding
 * and publishing loses nothing, and a replay decides nothing new. */
export class AlertOutbox {
  /** (resource|metric|period) -> the (kind:tier) already alerted; a cache of the table. */
  private readonly alerted = new Map<string, Set<string>>();

  constructor(
    private readonly pool: Pool,
    private readonly catalogVersion: string,
  ) {}

  /** Loads the alerted tiers of these (resource, period) pairs into the cache in one query. */
  async prime(pairs: { resourceId: string; metric: string; periodKey: string }[]): Promise<void> {
    const missing = pairs.filter((p) => !this.alerted.has(cacheKey(p.resourceId, p.metric, p.periodKey)));
    if (missing.length === 0) return;
    for (const p of missing) this.alerted.set(cacheKey(p.resourceId, p.metric, p.periodKey), new Set());
    const { rows } = await this.pool.query<{
      resource_id: string;
      metric: string;
      period_key: string;
      kind: string;
      threshold: number;
    }>(
      `SELECT resource_id, metric, period_key, kind, threshold FROM alerts
       WHERE resource_id = ANY($1::uuid[]) AND period_key = ANY($2::text[])`,
      [[...new Set(missing.map((p) => p.resourceId))], [...new Set(missing.map((p) => p.periodKey))]],
    );
    for (const r of rows)
      this.alerted.get(cacheKey(r.resource_id, r.metric, r.period_key))?.add(`${r.kind}:${r.threshold}`);
  }

  isAlerted(resourceId: string, metric: string, periodKey: string, kind: string, tier: number): boolean {
    return this.alerted.get(cacheKey(resourceId, metric, periodKey))?.has(`${kind}:${tier}`) ?? false;
  }

  /** Writes the decisions (in order); returns how many were new. */
  async record(decisions: DecidedAlert[]): Promise<number> {
    if (decisions.length === 0) return 0;
    const { rowCount } = await this.pool.query(
      `INSERT INTO alerts (id, resource_id, plan, metric, period_key, kind, threshold, severity, used, "limit", percent,
         projected, expected_daily, period_start, period_end, occurred_at, catalog_version)
       SELECT id, r, p, m, k, kind, th, sev, u, l, pc, pr, ed, ps, pe, oa, cv
       FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[],
         $9::float8[], $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::timestamptz[],
         $15::timestamptz[], $16::timestamptz[], $17::text[])
         WITH ORDINALITY AS t(id, r, p, m, k, kind, th, sev, u, l, pc, pr, ed, ps, pe, oa, cv, ord)
       ORDER BY ord -- seq follows the decision order: lowest tier first
       ON CONFLICT DO NOTHING`,
      [
        decisions.map((d) => d.id),
        decisions.map((d) => d.resourceId),
        decisions.map((d) => d.plan),
        decisions.map((d) => d.metric),
        decisions.map((d) => d.period.key),
        decisions.map((d) => d.kind),
        decisions.map((d) => d.threshold),
        decisions.map((d) => d.severity),
        decisions.map((d) => d.used),
        decisions.map((d) => d.limit),
        decisions.map((d) => d.percent),
        decisions.map((d) => d.projected),
        decisions.map((d) => d.expectedDailyAverage),
        decisions.map((d) => new Date(d.period.start).toISOString()),
        decisions.map((d) => new Date(d.period.end).toISOString()),
        decisions.map((d) => new Date(d.occurredAt).toISOString()),
        decisions.map(() => this.catalogVersion),
      ],
    );
    for (const d of decisions) {
      const key = cacheKey(d.resourceId, d.metric, d.period.key);
      const set = this.alerted.get(key) ?? new Set<string>();
      set.add(`${d.kind}:${d.threshold}`);
      this.alerted.set(key, set);
    }
    return rowCount ?? 0;
  }

  /** Publishes every unpublished alert in decision order, then marks them. A crash after the send
   * and before the mark republishes the same alert (same id) once: consumers dedupe by id.
   * Evaluator processes sharing one database take turns: a transaction-level advisory lock (per
   * schema) is held from the read to the mark, and a process that does not get it publishes nothing
   * this round, so two evaluators never send the same pending alert both, and the order stays one. */
  async publishPending(
    producer: Producer,
    codec: ContractCodec<UsageAlert>,
    topic: string,
    limit = 500,
  ): Promise<UsageAlert[]> {
    return inTransaction(this.pool, async (client) => {
      const { rows: lock } = await client.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.alerts-outbox')) AS ok",
      );
      if (!lock[0]?.ok) return [];
      const { rows } = await client.query<AlertRow>(
        `SELECT ${ALERT_COLUMNS} FROM alerts WHERE published_at IS NULL ORDER BY seq LIMIT $1`,
        [limit],
      );
      if (rows.length === 0) return [];
      const alerts = rows.map(toUsageAlert);
      const messages = await Promise.all(
        alerts.map(async (a) => ({ key: a.resourceId, value: await codec.encode(a) })),
      );
      await producer.send({ topic, messages, acks: -1 });
      await client.query('UPDATE alerts SET published_at = now() WHERE id = ANY($1::uuid[])', [
        alerts.map((a) => a.id),
      ]);
      return alerts;
    });
  }
}

const cacheKey = (resourceId: string, metric: string, periodKey: string) =>
  `${resourceId}|${metric}|${periodKey}`;

/** An alert as the outbox holds it: the published contract, and whether it was published yet. */
export interface StoredAlert extends UsageAlert {
  periodKey: string;
  publishedAt: number | null;
}

/** A resource's alerts, newest first (at most `limit`), of one period (`periodKey`, e.g. "2026-11")
 * or of every period. */
export async function listAlerts(
  pool: Pool,
  resourceId: string,
  opts: { periodKey?: string; limit?: number } = {},
): Promise<StoredAlert[]> {
  const { rows } = await pool.query<AlertRow & { period_key: string; published_at: Date | null }>(
    `SELECT ${ALERT_COLUMNS}, period_key, published_at FROM alerts
     WHERE resource_id = $1 AND ($2::text IS NULL OR period_key = $2)
     ORDER BY occurred_at DESC, seq DESC LIMIT $3`,
    [resourceId, opts.periodKey ?? null, opts.limit ?? 200],
  );
  return rows.map((r) => ({
    ...toUsageAlert(r),
    periodKey: r.period_key,
    publishedAt: r.published_at?.getTime() ?? null,
  }));
}

/** The identity of a recorded alert: which crossing of which resource's metric in which period. */
export interface RecordedAlert {
  id: string;
  resourceId: string;
  plan: string;
  metric: string;
  periodKey: string;
  kind: UsageAlert['kind'];
  threshold: number;
  occurredAt: number;
}

/** Every alert recorded for these periods ("2026-11"), of every resource: what a replay of the same
 * usage under the same catalog must reproduce. */
export async function recordedAlerts(pool: Pool, periodKeys: readonly string[]): Promise<RecordedAlert[]> {
  const { rows } = await pool.query<{
    id: string;
    resource_id: string;
    plan: string;
    metric: string;
    period_key: string;
    kind: UsageAlert['kind'];
    threshold: number;
    occurred_at: Date;
  }>(
    `SELECT id, resource_id, plan, metric, period_key, kind, threshold, occurred_at FROM alerts
     WHERE period_key = ANY($1::text[]) ORDER BY seq`,
    [periodKeys],
  );
  return rows.map((r) => ({
    id: r.id,
    resourceId: r.resource_id,
    plan: r.plan,
    metric: r.metric,
    periodKey: r.period_key,
    kind: r.kind,
    threshold: r.threshold,
    occurredAt: r.occurred_at.getTime(),
  }));
}

const ALERT_COLUMNS = `id, resource_id, plan, metric, kind, threshold, severity, used, "limit", percent, projected,
  period_start, period_end, occurred_at`;

interface AlertRow {
  id: string;
  resource_id: string;
  plan: string;
  metric: string;
  kind: UsageAlert['kind'];
  threshold: number;
  severity: UsageAlert['severity'];
  used: number;
  limit: number;
  percent: number;
  projected: number | null;
  period_start: Date;
  period_end: Date;
  occurred_at: Date;
}

function toUsageAlert(r: AlertRow): UsageAlert {
  return {
    id: r.id,
    resourceId: r.resource_id,
    plan: r.plan,
    metric: r.metric,
    kind: r.kind,
    threshold: r.threshold,
    severity: r.severity,
    used: Number(r.used),
    limit: Number(r.limit),
    percent: Number(r.percent),
    projected: r.projected === null ? null : Number(r.projected),
    periodStart: r.period_start.getTime(),
    periodEnd: r.period_end.getTime(),
    occurredAt: r.occurred_at.getTime(),
  };
}

/** The alerts published after `since` (ms, by published_at), oldest first, of these resources (null:
 * every resource): what a live view missed while it was away. At most `limit`, the newest of them. */
export async function publishedAlertsSince(
  pool: Pool,
  opts: { since: number; resourceIds: readonly string[] | null; limit?: number },
): Promise<StoredAlert[]> {
  const { rows } = await pool.query<AlertRow & { period_key: string; published_at: Date }>(
    `SELECT * FROM (
       SELECT ${ALERT_COLUMNS}, period_key, published_at, seq FROM alerts
       WHERE published_at > $1 AND ($2::uuid[] IS NULL OR resource_id = ANY($2::uuid[]))
       ORDER BY published_at DESC, seq DESC LIMIT $3) newest
     ORDER BY published_at, seq`,
    [new Date(opts.since).toISOString(), opts.resourceIds, opts.limit ?? 500],
  );
  return rows.map((r) => ({
    ...toUsageAlert(r),
    periodKey: r.period_key,
    publishedAt: r.published_at.getTime(),
  }));
}
