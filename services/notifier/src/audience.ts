import type { Pool } from '@meterline/db';
import type { AccessEntry, AccessRole, Person } from '@meterline/notifications';

/** What the notifier reads about a resource: its names (for the email) and its people. */
export interface ResourceAudience {
  id: string;
  plan: string;
  state: string;
  addonName: string;
  appName: string | null;
  access: AccessEntry[];
  contacts: Person[];
}

const person = (email: string, name: string | null): Person => (name ? { email, name } : { email });

/** The resources of a batch with their access lists and contacts, in three queries. The owner's
 * email on the resource counts as an owner entry when the synced access list lacks it. */
export async function loadAudiences(
  pool: Pool,
  resourceIds: readonly string[],
): Promise<Map<string, ResourceAudience>> {
  const ids = [...new Set(resourceIds)];
  const out = new Map<string, ResourceAudience>();
  if (ids.length === 0) return out;
  const [resources, access, contacts] = await Promise.all([
    pool.query(
      `SELECT id::text, plan, state, name, app_name, owner_email FROM resources WHERE id::text = ANY($1::text[])`,
      [ids],
    ),
    pool.query(
      `SELECT resource_id::text, email, name, role FROM resource_access WHERE resource_id::text = ANY($1::text[])
       ORDER BY resource_id, array_position(ARRAY['owner','admin','member','collaborator','viewer'], role), email`,
      [ids],
    ),
    pool.query(
      `SELECT resource_id::text, email, name FROM resource_contacts WHERE resource_id::text = ANY($1::text[])
       ORDER BY resource_id, added_at, email`,
      [ids],
    ),
  ]);
  const owners = new Map<string, string | null>();
  for (const r of resources.rows) {
    out.set(r.id, {
      id: r.id,
      plan: r.plan,
      state: r.state,
      addonName: r.name ?? `meterline-${String(r.id).slice(0, 8)}`,
      appName: r.app_name,
      access: [],
      contacts: [],
    });
    owners.set(r.id, r.owner_email);
  }
  for (const a of access.rows) {
    out.get(a.resource_id)?.access.push({ ...person(a.email, a.name), role: a.role as AccessRole });
  }
  for (const c of contacts.rows) out.get(c.resource_id)?.contacts.push(person(c.email, c.name));
  for (const [id, ownerEmail] of owners) {
    const audience = out.get(id)!;
    if (ownerEmail && !audience.access.some((a) => a.email.toLowerCase() === ownerEmail.toLowerCase())) {
      audience.access.unshift({ email: ownerEmail, role: 'owner' });
    }
  }
  return out;
}

/** Company users who subscribed to critical alerts and were not removed. */
export async function loadSubscribedStaff(pool: Pool): Promise<Person[]> {
  const { rows } = await pool.query(
    `SELECT email, name FROM staff_users WHERE kind = 'company' AND subscribed AND removed_at IS NULL ORDER BY email`,
  );
  return rows.map((r) => person(r.email, r.name));
}
