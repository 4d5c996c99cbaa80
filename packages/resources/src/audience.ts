import type { Pool } from '@meterline/db';
import type { AccessEntry, AccessRole, Person } from '@meterline/notifications';
import { type Resource, ResourceStore, UUID } from './resources.ts';

/** A resource with the people an email about it goes to: its access list and the provider's contacts. */
export interface ResourceAudience extends Resource {
  /** The add-on's name as the customer knows it. */
  addonName: string;
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
  // An alert's resource id is checked by the evaluator, but the topic may carry anything: an id of
  // another form names no resource.
  const ids = [...new Set(resourceIds)].filter((id) => UUID.test(id));
  const out = new Map<string, ResourceAudience>();
  if (ids.length === 0) return out;
  const [resources, access, contacts] = await Promise.all([
    new ResourceStore(pool).getMany(ids),
    pool.query(
      `SELECT resource_id::text, email, name, role FROM resource_access WHERE resource_id = ANY($1::uuid[])
       ORDER BY resource_id, array_position(ARRAY['owner','admin','member','collaborator','viewer'], role), email`,
      [ids],
    ),
    pool.query(
      `SELECT resource_id::text, email, name FROM resource_contacts WHERE resource_id = ANY($1::uuid[])
       ORDER BY resource_id, added_at, email`,
      [ids],
    ),
  ]);
  for (const r of resources) {
    out.set(r.id, { ...r, addonName: r.name ?? `meterline-${r.id.slice(0, 8)}`, access: [], contacts: [] });
  }
  for (const a of access.rows) {
    out.get(a.resource_id)?.access.push({ ...person(a.email, a.name), role: a.role as AccessRole });
  }
  for (const c of contacts.rows) out.get(c.resource_id)?.contacts.push(person(c.email, c.name));
  for (const audience of out.values()) {
    const owner = audience.ownerEmail;
    if (owner && !audience.access.some((a) => a.email.toLowerCase() === owner.toLowerCase())) {
      audience.access.unshift({ email: owner, role: 'owner' });
    }
  }
  return out;
}
