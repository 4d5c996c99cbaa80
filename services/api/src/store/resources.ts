import { inTransaction, type Pool, type PoolClient } from '@meterline/db';
import type { ProvisionHistoryEntry, ProvisionRequest } from '@meterline/heroku';

export type ResourceState = 'provisioning' | 'provisioned' | 'deprovisioned' | 'refused';

export interface Resource {
  id: string;
  plan: string;
  state: ResourceState;
  name: string | null;
  appId: string | null;
  appName: string | null;
  ownerId: string | null;
  ownerEmail: string | null;
  region: string | null;
  provisionedAt: number | null;
  deprovisionedAt: number | null;
  planChangedAt: number | null;
}

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

export type EventKind =
  | 'provision'
  | 'plan_change'
  | 'plan_change_refused'
  | 'provision_refused'
  | 'deprovision';

interface ResourceRow {
  id: string;
  plan: string;
  state: ResourceState;
  name: string | null;
  app_id: string | null;
  app_name: string | null;
  owner_id: string | null;
  owner_email: string | null;
  region: string | null;
  provisioned_at: Date | null;
  deprovisioned_at: Date | null;
  plan_changed_at: Date | null;
}

const COLUMNS =
  'id, plan, state, name, app_id, app_name, owner_id, owner_email, region, provisioned_at, deprovisioned_at, plan_changed_at';

function toResource(r: ResourceRow): Resource {
  return {
    id: r.id,
    plan: r.plan,
    state: r.state,
    name: r.name,
    appId: r.app_id,
    appName: r.app_name,
    ownerId: r.owner_id,
    ownerEmail: r.owner_email,
    region: r.region,
    provisionedAt: r.provisioned_at?.getTime() ?? null,
    deprovisionedAt: r.deprovisioned_at?.getTime() ?? null,
    planChangedAt: r.plan_changed_at?.getTime() ?? null,
  };
}

type Queryable = Pick<Pool | PoolClient, 'query'>;

export async function recordEvent(
  db: Queryable,
  resourceId: string,
  kind: EventKind,
  at: number,
  detail: Record<string, unknown> = {},
  plans: { from?: string | null; to?: string | null } = {},
): Promise<void> {
  await db.query(
    'INSERT INTO resource_events (resource_id, kind, from_plan, to_plan, detail, at) VALUES ($1, $2, $3, $4, $5, $6)',
    [resourceId, kind, plans.from ?? null, plans.to ?? null, JSON.stringify(detail), new Date(at)],
  );
}

/** The resources table as the api writes it: every change with its history row, in one transaction. */
export class ResourceStore {
  constructor(private readonly pool: Pool) {}

  async get(id: string, db: Queryable = this.pool): Promise<Resource | null> {
    const { rows } = await db.query<ResourceRow>(`SELECT ${COLUMNS} FROM resources WHERE id = $1`, [id]);
    return rows[0] ? toResource(rows[0]) : null;
  }

  async answerOf(id: string): Promise<Answer | null> {
    const { rows } = await this.pool.query<{ status: number; body: Record<string, unknown> }>(
      'SELECT status, body FROM provision_answers WHERE resource_id = $1',
      [id],
    );
    return rows[0] ? { status: rows[0].status, body: rows[0].body } : null;
  }

  /**
   * Inserts a new resource with the answer given for it, its history row and, optionally, Platform API work.
   * Returns false when the uuid already exists (a concurrent repeat): nothing was written then.
   */
  async create(input: {
    request: ProvisionRequest;
    state: 'provisioning' | 'provisioned' | 'refused';
    now: number;
    answer: Answer;
    event: { kind: 'provision' | 'provision_refused'; detail: Record<string, unknown> } | null;
    job: { kind: 'async_provision' | 'access_sync'; grantSealed: string } | null;
  }): Promise<boolean> {
    const { request: r, state, now } = input;
    return inTransaction(this.pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO resources (id, plan, state, name, region, callback_url, options, provisioned_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [
          r.uuid,
          r.plan,
          state,
          r.name,
          r.region,
          r.callbackUrl,
          JSON.stringify(r.options),
          state === 'provisioned' ? new Date(now) : null,
          new Date(now),
        ],
      );
      if (inserted.rowCount === 0) return false;
      await client.query('INSERT INTO provision_answers (resource_id, status, body) VALUES ($1, $2, $3)', [
        r.uuid,
        input.answer.status,
        JSON.stringify(input.answer.body),
      ]);
      if (input.event)
        await recordEvent(client, r.uuid, input.event.kind, now, input.event.detail, { to: r.plan });
      if (input.job) {
        await client.query(
          'INSERT INTO platform_jobs (resource_id, kind, grant_sealed) VALUES ($1, $2, $3)',
          [r.uuid, input.job.kind, input.job.grantSealed],
        );
      }
      return true;
    });
  }

  /** Runs `work` with the resource row locked, so concurrent plan changes of one resource take turns. */
  withLocked<T>(id: string, work: (resource: Resource | null, client: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<ResourceRow>(
        `SELECT ${COLUMNS} FROM resources WHERE id = $1 FOR UPDATE`,
        [id],
      );
      return work(rows[0] ? toResource(rows[0]) : null, client);
    });
  }

  async setPlan(
    client: PoolClient,
    resource: Resource,
    plan: string,
    now: number,
    detail: Record<string, unknown>,
  ) {
    await client.query(
      'UPDATE resources SET plan = $2, plan_changed_at = $3, updated_at = $3 WHERE id = $1',
      [resource.id, plan, new Date(now)],
    );
    await recordEvent(client, resource.id, 'plan_change', now, detail, { from: resource.plan, to: plan });
  }

  /** Never refused; a second call, an unknown id or a refused resource change nothing. Returns whether it did. */
  async deprovision(id: string, now: number): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ plan: string }>(
        `UPDATE resources SET state = 'deprovisioned', deprovisioned_at = $2, updated_at = $2
         WHERE id = $1 AND state IN ('provisioning', 'provisioned') RETURNING plan`,
        [id, new Date(now)],
      );
      if (rows.length === 0) return false;
      await recordEvent(client, id, 'deprovision', now, {}, { from: rows[0]!.plan });
      // Heroku revokes the add-on's authorization on deprovision: the tokens and pending work are dead.
      await client.query('DELETE FROM resource_oauth_tokens WHERE resource_id = $1', [id]);
      await client.query('DELETE FROM platform_jobs WHERE resource_id = $1', [id]);
      return true;
    });
  }

  /** What the Platform API told about the resource's app and owner. */
  async setPlatformFacts(
    id: string,
    facts: { appId: string; appName: string; ownerId: string; ownerEmail: string },
  ): Promise<void> {
    await this.pool.query(
      `UPDATE resources SET app_id = $2, app_name = $3, owner_id = $4, owner_email = $5, updated_at = now()
       WHERE id = $1 AND (app_id, app_name, owner_id, owner_email) IS DISTINCT FROM ($2, $3, $4, $5)`,
      [id, facts.appId, facts.appName, facts.ownerId, facts.ownerEmail],
    );
  }

  /** Ends an async provision: accepted (provisioned) or refused, with its history row. False if it moved on. */
  async finishProvision(
    id: string,
    outcome: { state: 'provisioned' } | { state: 'refused'; message: string; code: string },
    now: number,
  ): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ plan: string }>(
        `UPDATE resources SET state = $2, provisioned_at = CASE WHEN $2 = 'provisioned' THEN $3 ELSE provisioned_at END,
           updated_at = $3
         WHERE id = $1 AND state = 'provisioning' RETURNING plan`,
        [id, outcome.state, new Date(now)],
      );
      if (rows.length === 0) return false;
      if (outcome.state === 'provisioned') {
        await recordEvent(client, id, 'provision', now, { mode: 'async' }, { to: rows[0]!.plan });
      } else {
        await recordEvent(
          client,
          id,
          'provision_refused',
          now,
          { mode: 'async', code: outcome.code, message: outcome.message },
          { to: rows[0]!.plan },
        );
      }
      return true;
    });
  }

  /**
   * Earlier resources of the same app or owner since `since`, with the highest share of an allowance each
   * used over its life, from the durable usage ledger: the facts of the provision refusal policy.
   */
  async history(
    appId: string | null,
    ownerId: string | null,
    excludeId: string,
    since: number,
    limitsOf: (plan: string) => Record<string, number>,
  ): Promise<ProvisionHistoryEntry[]> {
    if (appId === null && ownerId === null) return [];
    const { rows } = await this.pool.query<{
      id: string;
      plan: string;
      app_id: string | null;
      owner_id: string | null;
      provisioned_at: Date;
      deprovisioned_at: Date | null;
      usage: Record<string, number> | null;
    }>(
      `SELECT r.id, r.plan, r.app_id, r.owner_id, r.provisioned_at, r.deprovisioned_at,
              (SELECT json_object_agg(metric, total) FROM (
                 SELECT metric, sum(quantity) AS total FROM usage_ledger WHERE resource_id = r.id GROUP BY metric) u
              ) AS usage
       FROM resources r
       WHERE (r.app_id = $1 OR r.owner_id = $2) AND r.id <> $3 AND r.provisioned_at IS NOT NULL
         AND r.provisioned_at >= $4`,
      [appId, ownerId, excludeId, new Date(since)],
    );
    return rows.map((r) => {
      const limits = limitsOf(r.plan);
      let maxUsedPercent = 0;
      for (const [metric, used] of Object.entries(r.usage ?? {})) {
        const limit = limits[metric];
        if (limit && limit > 0) maxUsedPercent = Math.max(maxUsedPercent, (Number(used) / limit) * 100);
      }
      return {
        resourceId: r.id,
        appId: r.app_id,
        ownerId: r.owner_id,
        provisionedAt: r.provisioned_at.getTime(),
        deprovisionedAt: r.deprovisioned_at?.getTime() ?? null,
        maxUsedPercent,
      };
    });
  }

  /** Whether any of these emails is a company user (company users may install hidden plans). */
  async anyCompanyUser(emails: string[]): Promise<boolean> {
    if (emails.length === 0) return false;
    const { rows } = await this.pool.query(
      `SELECT 1 FROM staff_users WHERE kind = 'company' AND removed_at IS NULL AND lower(email) = ANY($1::text[]) LIMIT 1`,
      [emails.map((e) => e.toLowerCase())],
    );
    return rows.length > 0;
  }

  /** The alerts the evaluator raised for the resource in a period, newest first. */
  async alerts(id: string, periodKey: string): Promise<AlertRow[]> {
    const { rows } = await this.pool.query<{
      id: string;
      metric: string;
      kind: 'THRESHOLD' | 'PACE';
      threshold: number;
      severity: string;
      used: number;
      limit: number;
      percent: number;
      occurred_at: Date;
    }>(
      `SELECT id, metric, kind, threshold, severity, used, "limit", percent, occurred_at FROM alerts
       WHERE resource_id = $1 AND period_key = $2 ORDER BY occurred_at DESC, seq DESC LIMIT 200`,
      [id, periodKey],
    );
    return rows.map((r) => ({
      id: r.id,
      metric: r.metric,
      kind: r.kind,
      threshold: r.threshold,
      severity: r.severity,
      used: r.used,
      limit: r.limit,
      percent: r.percent,
      occurredAt: r.occurred_at.getTime(),
    }));
  }
}

export interface AlertRow {
  id: string;
  metric: string;
  kind: 'THRESHOLD' | 'PACE';
  threshold: number;
  severity: string;
  used: number;
  limit: number;
  percent: number;
  occurredAt: number;
}
