import { inTransaction, type Pool, type PoolClient } from '@meterline/db';
import type { ProvisionRequest } from '@meterline/heroku';

/** A resource id's form: the add-on resource uuid from provisioning. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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

/** The resources table and its history (resource_events, provision_answers): the api writes them, every
 * change with its history row in one transaction; the pipeline reads them. */
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
  /** `detail` goes into the history row: who disabled it and why, when the provider did (ADR 0016). */
  async deprovision(id: string, now: number, detail: Record<string, unknown> = {}): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ plan: string }>(
        `UPDATE resources SET state = 'deprovisioned', deprovisioned_at = $2, updated_at = $2
         WHERE id = $1 AND state IN ('provisioning', 'provisioned') RETURNING plan`,
        [id, new Date(now)],
      );
      if (rows.length === 0) return false;
      await recordEvent(client, id, 'deprovision', now, detail, { from: rows[0]!.plan });
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

  /** Several resources in one query (the pipeline's directory, the notifier's batches); unknown ids are absent. */
  async getMany(ids: readonly string[], db: Queryable = this.pool): Promise<Resource[]> {
    // Compared as uuids (the primary key's index); an id of another form names no resource.
    const wanted = [...new Set(ids)].filter((id) => UUID.test(id));
    if (wanted.length === 0) return [];
    const { rows } = await db.query<ResourceRow>(
      `SELECT ${COLUMNS} FROM resources WHERE id = ANY($1::uuid[])`,
      [wanted],
    );
    return rows.map(toResource);
  }

  /** Earlier resources of the same app or owner provisioned since `since` (the provision refusal policy's facts). */
  async related(
    appId: string | null,
    ownerId: string | null,
    excludeId: string,
    since: number,
  ): Promise<Resource[]> {
    if (appId === null && ownerId === null) return [];
    const { rows } = await this.pool.query<ResourceRow>(
      `SELECT ${COLUMNS} FROM resources
       WHERE (app_id = $1 OR owner_id = $2) AND id <> $3 AND provisioned_at IS NOT NULL AND provisioned_at >= $4`,
      [appId, ownerId, excludeId, new Date(since)],
    );
    return rows.map(toResource);
  }

  /** The resource's history, oldest first. */
  async events(id: string): Promise<ResourceEvent[]> {
    const { rows } = await this.pool.query<{
      kind: EventKind;
      from_plan: string | null;
      to_plan: string | null;
      detail: Record<string, unknown>;
      at: Date;
    }>(
      'SELECT kind, from_plan, to_plan, detail, at FROM resource_events WHERE resource_id = $1 ORDER BY id',
      [id],
    );
    return rows.map((r) => ({
      kind: r.kind,
      fromPlan: r.from_plan,
      toPlan: r.to_plan,
      detail: r.detail,
      at: r.at.getTime(),
    }));
  }

  /** Every resource's plan over time (what a replay of past usage judges each hour by): the plan it
   * was provisioned on and each accepted plan change, oldest first. Refused changes are left out. */
  async planHistories(): Promise<Map<string, PlanHistory>> {
    const { rows: resources } = await this.pool.query<ResourceRow>(`SELECT ${COLUMNS} FROM resources`);
    const { rows: changes } = await this.pool.query<{
      resource_id: string;
      from_plan: string | null;
      to_plan: string | null;
      at: Date;
    }>(
      `SELECT resource_id, from_plan, to_plan, at FROM resource_events
       WHERE kind = 'plan_change' AND to_plan IS NOT NULL ORDER BY resource_id, at, id`,
    );
    const out = new Map<string, PlanHistory>();
    for (const row of resources) {
      const r = toResource(row);
      out.set(r.id, { resource: r, initialPlan: r.plan, changes: [] });
    }
    for (const c of changes) {
      const h = out.get(c.resource_id);
      if (!h) continue;
      if (h.changes.length === 0 && c.from_plan) h.initialPlan = c.from_plan;
      h.changes.push({ at: c.at.getTime(), plan: c.to_plan! });
    }
    return out;
  }

  /** What the customer must be told by email after `after` (by time, then event id), oldest first:
   * asynchronous provisions refused (ADR 0003) and add-ons the provider disabled with a reason (ADR 0016).
   * Partial indexes find them (migrations 010 and 012). */
  async refusalsAndDisables(after: RefusalCursor, limit: number): Promise<ProvisionRefusal[]> {
    const { rows } = await this.pool.query(
      `SELECT e.id::text AS event_id, e.resource_id::text AS resource_id, coalesce(e.to_plan, e.from_plan, r.plan) AS plan,
              e.kind, coalesce(e.detail->>'message', e.detail->>'reason') AS reason, e.at
       FROM resource_events e JOIN resources r ON r.id = e.resource_id
       WHERE ((e.kind = 'provision_refused' AND e.detail->>'mode' = 'async')
              OR (e.kind = 'deprovision' AND e.detail ? 'disabledBy'))
         AND (e.at, e.id) > ($1, $2::bigint)
       ORDER BY e.at, e.id LIMIT $3`,
      [new Date(after.at), after.eventId, limit],
    );
    return rows.map((r) => ({
      kind: r.kind === 'deprovision' ? 'disabled' : 'refused',
      eventId: r.event_id,
      resourceId: r.resource_id,
      plan: r.plan,
      reason: r.reason ?? 'The provision request was refused.',
      at: r.at.getTime(),
    }));
  }

  /** A resource the scope may see (a partner employee: only their clients'), or null. */
  async getVisible(id: string, scope: ClientScope): Promise<Resource | null> {
    if (!UUID.test(id)) return null;
    const { rows } = await this.pool.query<ResourceRow>(
      `SELECT ${COLUMNS} FROM resources WHERE id = $1 AND ($2::text[] IS NULL OR owner_id = ANY($2::text[]))`,
      [id, scopeIds(scope)],
    );
    return rows[0] ? toResource(rows[0]) : null;
  }

  /** The clients (customer organisations: the owners of resources) the scope may see, by name. */
  async clients(scope: ClientScope): Promise<Client[]> {
    const { rows } = await this.pool.query(
      `SELECT owner_id, min(owner_email) AS name, count(*)::int AS resources,
              count(*) FILTER (WHERE state = 'provisioned')::int AS live
       FROM resources WHERE owner_id IS NOT NULL AND ($1::text[] IS NULL OR owner_id = ANY($1::text[]))
       GROUP BY owner_id ORDER BY min(owner_email), owner_id`,
      [scopeIds(scope)],
    );
    return rows.map((r) => ({
      id: r.owner_id,
      name: r.name ?? r.owner_id,
      resources: r.resources,
      live: r.live,
    }));
  }

  /** A client's resources, newest first, if the scope may see the client. */
  async ofClient(clientId: string, scope: ClientScope): Promise<Resource[]> {
    const { rows } = await this.pool.query<ResourceRow>(
      `SELECT ${COLUMNS} FROM resources WHERE owner_id = $1 AND ($2::text[] IS NULL OR owner_id = ANY($2::text[]))
       ORDER BY created_at DESC`,
      [clientId, scopeIds(scope)],
    );
    return rows.map(toResource);
  }

  /** How many resources there are (any state). */
  async count(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM resources');
    return rows[0]!.n;
  }
}

/** A customer organisation: the Heroku account or team that owns resources (`owner_id`), named by the
 * owner's email. */
export interface Client {
  id: string;
  name: string;
  resources: number;
  live: number;
}

/** Who may see which clients' resources: every client, or these (a partner employee's granted clients). */
export type ClientScope = { all: true } | { all: false; clientIds: readonly string[] };

const scopeIds = (scope: ClientScope): readonly string[] | null => (scope.all ? null : scope.clientIds);

export interface ResourceEvent {
  kind: EventKind;
  fromPlan: string | null;
  toPlan: string | null;
  detail: Record<string, unknown>;
  at: number;
}

/** A resource with the plans it was on: `initialPlan` from provisioning, then each change. */
export interface PlanHistory {
  resource: Resource;
  initialPlan: string;
  changes: { at: number; plan: string }[];
}

/** The plan a resource was on at `ts`. */
export function planAt(history: PlanHistory, ts: number): string {
  let plan = history.initialPlan;
  for (const c of history.changes) {
    if (c.at > ts) break;
    plan = c.plan;
  }
  return plan;
}

/** Where a walk through the refusals stands: after this event (time, id). */
export interface RefusalCursor {
  at: number;
  eventId: string;
}

/** A refused asynchronous provision, or an add-on the provider disabled, as the api recorded it. */
export interface ProvisionRefusal {
  kind: 'refused' | 'disabled';
  eventId: string;
  resourceId: string;
  plan: string;
  /** the decision's message */
  reason: string;
  at: number;
}
