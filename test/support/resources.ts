import { randomUUID } from 'node:crypto';
import type { Pool } from '@meterline/db';

/** Writes a resource row as the api would (tests of services that only read resources). */
export async function seedResource(
  pool: Pool,
  r: {
    id?: string;
    plan?: string;
    state?: string;
    provisionedAt?: Date;
    deprovisionedAt?: Date;
    appName?: string;
  } = {},
): Promise<string> {
  const id = r.id ?? randomUUID();
  await pool.query(
    `INSERT INTO resources (id, plan, state, name, app_name, provisioned_at, deprovisioned_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO UPDATE SET plan = excluded.plan, state = excluded.state,
       provisioned_at = excluded.provisioned_at, deprovisioned_at = excluded.deprovisioned_at, updated_at = now()`,
    [
      id,
      r.plan ?? 'basic',
      r.state ?? 'provisioned',
      `meter-${id.slice(0, 8)}`,
      r.appName ?? `app-${id.slice(0, 8)}`,
      r.provisionedAt ?? new Date(Date.now() - 40 * 86_400_000),
      r.deprovisionedAt ?? null,
    ],
  );
  return id;
}
