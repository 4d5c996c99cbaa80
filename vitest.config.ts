import { defineConfig, mergeConfig } from 'vitest/config';
import shared, { integrationTests } from './vitest.shared.ts';

// `pnpm test:unit`: the unit tests of every package in one run from the root, with no infrastructure.
// test/support/no-services.ts fails a unit test that opens a connection to one of the services' ports;
// the timeouts are a unit test's, so that one whose client retries such a connection fails soon.
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      exclude: integrationTests,
      setupFiles: ['test/support/no-services.ts'],
      testTimeout: 20_000,
      hookTimeout: 20_000,
    },
  }),
);
