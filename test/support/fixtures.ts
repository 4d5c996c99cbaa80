import { test } from 'vitest';
import { createTestWorld, type TestWorld } from './isolation.ts';

/**
 * `test` with a `world` fixture: one isolated world (schema, key prefix, topics, groups) per test file,
 * made when the file's first test asks for it and closed after its last. Instead of
 * `let world; beforeAll(create); afterAll(close)` in every suite:
 *
 *   const it = worldTest('catalog');
 *   it('stores the catalog', async ({ world }) => { ... });
 */
export function worldTest(name: string, opts: { partitions?: number } = {}) {
  return test.extend<{ world: TestWorld }>({
    world: [
      // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixtures a fixture needs from this pattern
      async ({}, use) => {
        const world = await createTestWorld(name, opts);
        try {
          await use(world);
        } finally {
          await world.close();
        }
      },
      { scope: 'file' },
    ],
  });
}
