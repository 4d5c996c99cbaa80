import { test } from 'vitest';
import { createTestWorld, type TestWorld } from './isolation.ts';

/**
 * `test` with a `world` fixture: one isolated world (schema, key prefix, topics, groups) per test file,
 * made when the file's first test (or `it.beforeAll`) asks for it and closed after its last. Instead of
 * `let world; beforeAll(create); afterAll(close)` in every suite:
 *
 *   const it = worldTest('catalog');
 *   it.beforeAll(async ({ world }) => { ...start what the tests talk to... });
 *   it('stores the catalog', async ({ world }) => { ... });
 *
 * Each `worldTest` call makes its own world, so a file whose describes need a world each makes one per
 * describe (at the top level: vitest defines file-scoped fixtures there only). `scope: 'test'` gives every
 * test a fresh world, closed when it ends: for tests that crash, flood or regroup their world.
 */
export function worldTest(name: string, opts: { partitions?: number; scope?: 'file' | 'test' } = {}) {
  return test.extend<{ world: TestWorld }>({
    world: [
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixtures a fixture needs from this pattern
      async ({}, use) => {
        const world = await createTestWorld(name, { partitions: opts.partitions });
        try {
          await use(world);
        } finally {
          await world.close();
        }
      },
      { scope: opts.scope ?? 'file' },
    ],
  });
}
