import { defineConfig, mergeConfig } from 'vitest/config';
import shared, { integrationTests } from './vitest.shared.ts';

// `pnpm test:unit`: the unit tests of every package in one run from the root, with no infrastructure.
// test/support/no-services.ts fails a unit test that opens a connection to one of the services' ports;
// the timeouts are a unit test's, so that one whose client retries such a connection fails soon.
// isolate: false reuses each worker's module graph across test files instead of re-importing it for
// every file: most of the run's time was those imports. The unit tests keep no state between files
// (spies are restored, the no-services guard is installed once per worker), and they pass in any
// order (--sequence.shuffle).
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      exclude: integrationTests,
      setupFiles: ['test/support/no-services.ts'],
      isolate: false,
      testTimeout: 20_000,
      hookTimeout: 20_000,
    },
  }),
);
