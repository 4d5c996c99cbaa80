import { defineConfig } from 'vitest/config';

// The one vitest configuration: each package's vitest.config.ts re-exports it, and the root
// vitest.config.ts (unit tests only) extends it. Test files are named by what they need:
//   *.test.ts      unit tests: no Kafka, registry, Postgres, Redis or SMTP (`pnpm test:unit` checks it)
//   *.int.test.ts  integration tests against the real infrastructure (`pnpm infra:up`)
//   *.e2e.test.ts  end-to-end tests that start the services as processes
export const integrationTests = ['**/*.int.test.ts', '**/*.e2e.test.ts'];

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '**/.tools/**', '**/.infra/**'],
    // An integration suite's hooks start services and wait for consumer-group rebalances and Redis
    // rebuilds; its tests wait for records to pass through the pipeline.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
