/** Node flags a service runs with, wherever it is started: `pnpm start` (scripts/start.ts), and the tests
 * and the benchmark (test/support startServiceProcess). A deployment that starts `node` itself passes
 * the same flags (docs/configuration.md).
 *
 * The ingestor holds a whole fetched batch (up to 16 MB of records per partition, several partitions at
 * a time) while it counts it, so most of what it allocates outlives V8's default young generation and is
 * copied, promoted and collected again. With 64 MB semi-spaces most of it dies in the young generation
 * instead (ADR 0015 has the measurements). */
const NODE_ARGS: Record<string, string[]> = {
  ingestor: ['--max-semi-space-size=64'],
};

export const serviceNodeArgs = (service: string): string[] => NODE_ARGS[service] ?? [];
