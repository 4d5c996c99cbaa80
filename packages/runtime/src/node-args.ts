/** Node flags a service runs with, wherever it is started: `pnpm start` (scripts/start.ts), and the tests
 * and the benchmark (test/support startServiceProcess). A deployment that starts `node` itself passes
 * the same flags (README, Configuration).
 *
 * The ingestor holds a whole fetched batch (up to 16 MB of records per partition, several partitions at
 * a time) while it counts it, so most of what it allocates outlives V8's default young generation and is
 * copied, promoted and collected again. A 64 MB semi-space took `pnpm bench` from ~45-58k to ~64-79k
 * events/s on the 2-core machine (2026-12-02, two runs each). */
const NODE_ARGS: Record<string, string[]> = {
  ingestor: ['--max-semi-space-size=64'],
};

export const serviceNodeArgs = (service: string): string[] => NODE_ARGS[service] ?? [];
