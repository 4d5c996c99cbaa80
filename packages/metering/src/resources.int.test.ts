import { randomUUID } from 'node:crypto';
import { createLogger } from '@meterline/runtime';
import { seedResource, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { ResourceDirectory } from './resources.ts';

const log = createLogger('test', { level: 'error' });

const it = worldTest('directory');

describe('ResourceDirectory on the real Postgres', () => {
  it('keeps its caches bounded: ids that are no resource, from a producer sending random ones, do not pile up', async ({
    world,
  }) => {
    const directory = new ResourceDirectory(world.pool, log, null, () => {}, { known: 50, missing: 100 });
    const real = await Promise.all(Array.from({ length: 120 }, () => seedResource(world.pool)));
    const t0 = Date.now();
    // 2,000 unknown ids over a minute of lookups: expired ones make room, then the rest are cleared.
    for (let i = 0; i < 20; i++) {
      const unknown = Array.from({ length: 100 }, () => randomUUID());
      const found = await directory.getMany([...unknown, ...real.slice(i * 6, i * 6 + 6)], t0 + i * 3_000);
      expect([...found.values()].filter((r) => r === null)).toHaveLength(100);
      expect(directory.cached.missing).toBeLessThanOrEqual(100);
      expect(directory.cached.known).toBeLessThanOrEqual(50);
    }
    // Still right after the caches started again.
    const all = await directory.getMany(real, t0 + 60_000);
    expect([...all.values()].every((r) => r?.state === 'provisioned')).toBe(true);
    expect(directory.cached.known).toBeLessThanOrEqual(50);
  });

  it('answers an id found missing from its negative cache for a few seconds, then asks Postgres again', async ({
    world,
  }) => {
    const directory = new ResourceDirectory(world.pool, log, null);
    const id = randomUUID();
    const t0 = Date.now();
    expect((await directory.getMany([id], t0)).get(id)).toBeNull();
    await seedResource(world.pool, { id });
    expect((await directory.getMany([id], t0 + 1_000)).get(id)).toBeNull();
    expect((await directory.getMany([id], t0 + 6_000)).get(id)).toMatchObject({ state: 'provisioned' });
  });
});
