import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.ts';

// The fault suite: one file, its faults one after another on one pipeline of its own (ADR 0022). A
// phase waits up to minutes for the pipeline to recover on a loaded machine; the pipeline's servers
// (a Kafka broker, a Postgres cluster) take a while to start.
export default mergeConfig(
  shared,
  defineConfig({
    test: {
      testTimeout: 600_000,
      hookTimeout: 300_000,
      fileParallelism: false,
    },
  }),
);
