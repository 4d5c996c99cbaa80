import { randomUUID } from 'node:crypto';
import type { Pool } from '@meterline/db';
import { DAY } from '@meterline/rules';
import type { ResourceState } from './resources.ts';

/**
 * Fixtures: resource rows written (and read) the way tests, the benchmarks and the demo need and no
 * service path does (a resource as the api would have left it, a history moved back in time, the
 * sealed form of the tokens). Not for the services: they go through the stores.
 */
export interface SeededResource {
  id?: string;
  plan?: string;
  state?: ResourceState;
  name?: string;
  appId?: string | null;
  appName?: string;
  ownerId?: string | null;
  ownerEmail?: string | null;
  provisionedAt?: Date;
  deprovisionedAt?: Date | null;
}

/** Writes (or overwrites) resource rows in one statement; returns their ids in order. */
export async function seedResources(pool: Pool, resources: readonly SeededResource[]): Promise<string[]> {
  const ids = resources.map((r) => r.id ?? randomUUID());
  const col = <T>(f: (r: SeededResource, id: string) => T) => resources.map((r, i) => f(r, ids[i]!));
  await pool.query(
    `INSERT INTO resources (id, plan, state, name, app_id, app_name, owner_id, owner_email, provisioned_at, deprovisioned_at)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::text[], $9::timestamptz[], $10::timestamptz[])
     ON CONFLICT (id) DO UPDATE SET plan = excluded.plan, state = excluded.state, app_id = excluded.app_id,
       app_name = excluded.app_name, owner_id = excluded.owner_id, owner_email = excluded.owner_email,
       provisioned_at = excluded.provisioned_at, deprovisioned_at = excluded.deprovisioned_at, updated_at = now()`,
    [
      ids,
      col((r) => r.plan ?? 'basic'),
      col((r) => r.state ?? 'provisioned'),
      col((r, id) => r.name ?? `meter-${id.slice(0, 8)}`),
      col((r) => r.appId ?? null),
      col((r, id) => r.appName ?? `app-${id.slice(0, 8)}`),
      col((r) => r.ownerId ?? null),
      col((r) => r.ownerEmail ?? null),
      col((r) => (r.provisionedAt ?? new Date(Date.now() - 40 * DAY)).toISOString()),
      col((r) => r.deprovisionedAt?.toISOString() ?? null),
    ],
  );
  return ids;
}

/** Moves resources' provisioning (and creation) back in time, optionally renaming their app: a history
 * that the demo and tests need and that no request produces. */
export async function backdateResources(
  pool: Pool,
  ids: readonly string[],
  provisionedAt: Date,
  appName?: string,
): Promise<void> {
  await pool.query(
    `UPDATE resources SET provisioned_at = $2, created_at = least(created_at, $2), app_name = coalesce($3, app_name),
       updated_at = now()
     WHERE id = ANY($1::uuid[])`,
    [ids, provisionedAt, appName ?? null],
  );
}

/** Makes a resource's access list look `ageSeconds` old, so the api's refresh picks it up. */
export async function ageAccessList(pool: Pool, resourceId: string, ageSeconds: number): Promise<void> {
  await pool.query(
    `UPDATE resource_access_sync SET synced_at = now() - make_interval(secs => $2) WHERE resource_id = $1`,
    [resourceId, ageSeconds],
  );
}

/** The resource's tokens as stored (sealed): what a database dump would show of them. */
export async function storedTokens(pool: Pool, resourceId: string): Promise<string | null> {
  const { rows } = await pool.query<{ sealed: string }>(
    'SELECT sealed FROM resource_oauth_tokens WHERE resource_id = $1',
    [resourceId],
  );
  return rows[0]?.sealed ?? null;
}
