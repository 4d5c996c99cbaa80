import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { CounterStore, ResourceEvents } from '@meterline/metering';
import { createRedis, scanKeys } from '@meterline/redis';
import { startOwnRedisServer } from '@meterline/test/support';

// `pnpm bench:redis`: Redis bytes per resource-metric, loaded through the real counting code
// (`CounterStore.countMany`) into a redis-server of this run's own (no other clients, so INFO's
// used_memory moves only with what the load wrote). REDIS_BYTES_RESOURCES (default 100,000) resources
// with REDIS_BYTES_EVENTS (default 1) events of each of three metrics, from six partitions (more events:
// a busy resource, whose dedupe ids fill its hash). Prints and writes
// bench/results/redis-bytes.json: the sum of MEMORY USAGE over every key, the used_memory delta, and
// the MEMORY USAGE sum per kind of key (ADR 0020).
const R = Number(process.env.REDIS_BYTES_RESOURCES ?? 100_000);
const E = Number(process.env.REDIS_BYTES_EVENTS ?? 1);
const METRICS = ['api_calls', 'storage_gb', 'emails_sent'];
const PARTITIONS = 6;
const BATCH = Math.max(1, Math.floor(5_000 / E));
const out = (s: string) => process.stdout.write(`${s}\n`);

const server = await startOwnRedisServer();
const redis = createRedis(server.url, { keyPrefix: 'ml:' });
const raw = createRedis(server.url);
const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
try {
  const counters = new CounterStore(redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
  await counters.setGeneration(1);
  const before = await usedMemory();
  const now = Date.now();
  const offsets = new Array<number>(PARTITIONS).fill(0);
  for (let from = 0; from < R; from += BATCH) {
    const byPartition = new Map<number, { resourceId: string; events: ResourceEvents }[]>();
    for (let i = from; i < Math.min(R, from + BATCH); i++) {
      const partition = i % PARTITIONS;
      const events = new ResourceEvents();
      for (let e = 0; e < E; e++)
        for (const metric of METRICS)
          events.push(randomUUID(), String(offsets[partition]!++), metric, 1, now - (i % 60_000));
      const work = byPartition.get(partition) ?? [];
      work.push({ resourceId: randomUUID(), events });
      byPartition.set(partition, work);
    }
    await Promise.all(
      [...byPartition].map(([p, work]) => counters.countMany(`usage.events.v1:${p}`, work, now)),
    );
  }
  const after = await usedMemory();
  const resourceMetrics = R * METRICS.length;

  // MEMORY USAGE of every key (SAMPLES 0: every element), by kind.
  const kindOf = (key: string) => {
    if (/:gen\d*$/.test(key)) return 'generation markers';
    if (/^ml:\{s\d+\}:r:[^:]+$/.test(key)) return 'resource counters (hash)';
    return 'other';
  };
  const byKind = new Map<string, { keys: number; bytes: number; keyNameBytes: number }>();
  // How the values are stored (a hash stays a listpack while its fields and values are small).
  const encodings = new Map<string, number>();
  let total = 0;
  let keys = 0;
  for await (const batch of scanKeys(redis, 'ml:*', 5_000)) {
    // Full key names on a client without the prefix (ioredis does not prefix MEMORY USAGE's key).
    const [sizes, encoded] = await Promise.all([
      Promise.all(batch.map((k) => raw.memory('USAGE', k, 'SAMPLES', 0))),
      Promise.all(batch.map((k) => raw.object('ENCODING', k))),
    ]);
    batch.forEach((k, j) => {
      const encoding = `${kindOf(k)}: ${String(encoded[j])}`;
      encodings.set(encoding, (encodings.get(encoding) ?? 0) + 1);
      const kind = kindOf(k);
      const e = byKind.get(kind) ?? { keys: 0, bytes: 0, keyNameBytes: 0 };
      e.keys++;
      e.bytes += Number(sizes[j] ?? 0);
      e.keyNameBytes += Buffer.byteLength(k);
      byKind.set(kind, e);
      total += Number(sizes[j] ?? 0);
      keys++;
    });
  }
  const perRm = (n: number) => Math.round((n / resourceMetrics) * 10) / 10;
  const result = {
    resources: R,
    metrics: METRICS.length,
    resourceMetrics,
    eventsPerResourceMetric: E,
    keys,
    memoryUsageBytesPerResourceMetric: perRm(total),
    usedMemoryDeltaBytesPerResourceMetric: perRm(after - before),
    byKind: Object.fromEntries(
      [...byKind].map(([kind, e]) => [
        kind,
        {
          keys: e.keys,
          bytesPerKey: Math.round(e.bytes / e.keys),
          keyNameBytesPerKey: Math.round(e.keyNameBytes / e.keys),
          bytesPerResourceMetric: perRm(e.bytes),
        },
      ]),
    ),
    encodings: Object.fromEntries(encodings),
    bar: 200,
    at: new Date().toISOString(),
  };
  out(
    `${resourceMetrics.toLocaleString('en-US')} resource-metrics (${R.toLocaleString('en-US')} resources x 3 metrics, ${E} event(s) each), ${keys.toLocaleString('en-US')} keys:`,
  );
  out(`  MEMORY USAGE sum:    ${result.memoryUsageBytesPerResourceMetric} bytes per resource-metric`);
  out(
    `  INFO used_memory Δ:  ${result.usedMemoryDeltaBytesPerResourceMetric} bytes per resource-metric (bar: 200)`,
  );
  for (const [kind, e] of Object.entries(result.byKind))
    out(
      `    ${kind.padEnd(32)} ${String(e.keys).padStart(8)} keys, ${e.bytesPerKey} B/key (name ${e.keyNameBytesPerKey} B), ${e.bytesPerResourceMetric} B per resource-metric`,
    );
  for (const [encoding, n] of encodings) out(`    ${encoding}: ${n} keys`);
  const file = new URL(`./results/redis-bytes${process.env.BENCH_RESULT_SUFFIX ?? ''}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  out(`results written to ${file.pathname}`);
} finally {
  redis.disconnect();
  raw.disconnect();
  await server.close();
}
