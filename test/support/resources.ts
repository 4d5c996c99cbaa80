import type { Pool } from '@meterline/db';
import { type SeededResource, seedResources } from '@meterline/resources/fixtures';

/** Writes a resource row as the api would (tests of services that only read resources). */
export async function seedResource(pool: Pool, r: SeededResource = {}): Promise<string> {
  const [id] = await seedResources(pool, [r]);
  return id!;
}
