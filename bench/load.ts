import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type createRegistry, type KafkaClientName, kafkaClients } from '@meterline/kafka';
import { masters, type Redis } from '@meterline/redis';
import { avroSchema, type UsageEvent } from '@meterline/schemas';
import { readProcStat, TICKS_PER_SECOND } from '@meterline/test/support';

// What the benchmarks share: their plans and Kafka clients, the events they load, their encoding, and
// Redis's and the machine's CPU time.

/** Writes a benchmark's plans file to the temp directory and returns its path. Two plans: `name`, the
 * load's, whose limits (a billion of each of `metrics`) no run reaches, with four tiers; and `probe`,
 * 100 api_calls with one tier at 50%, which one event of quantity 60 crosses (the alert probes). */
export function writeBenchPlans(name: string, metrics: readonly string[]): string {
  const file = join(tmpdir(), `bench-${name}-plans-${process.pid}.yaml`);
  writeFileSync(
    file,
    `plans:
  - name: ${name}
    rank: 1
    limits: { ${metrics.map((m) => `${m}: 1000000000`).join(', ')} }
    thresholds: [50, 75, 90, 100]
    overLimit: Nothing happens in a benchmark.
  - name: probe
    rank: 2
    limits: { api_calls: 100 }
    thresholds: [50]
    overLimit: Nothing happens in a benchmark.
`,
  );
  return file;
}

/** The Kafka clients of a comma-separated list (`kafkajs,platformatic`), in its order, each once;
 * `fail` is called with the problem if one is not a client the services can run on. */
export function benchClients(list: string, fail: (problem: string) => never): KafkaClientName[] {
  const clients = [...new Set(list.split(',').map((c) => c.trim()))];
  for (const c of clients)
    if (!(kafkaClients as readonly string[]).includes(c))
      fail(`unknown Kafka client "${c}": one of ${kafkaClients.join(', ')}`);
  return clients as KafkaClientName[];
}

/** Registers UsageEvent under `subject` and returns its encoder to the Confluent wire format. */
export async function usageEventEncoder(
  registry: ReturnType<typeof createRegistry>,
  subject: string,
): Promise<(event: UsageEvent) => Buffer> {
  const { id } = await registry.register(
    { type: 'AVRO' as never, schema: JSON.stringify(avroSchema('UsageEvent')) },
    { subject },
  );
  const avro = (await registry.getSchema(id)) as unknown as { toBuffer(v: unknown): Buffer };
  const header = Buffer.from([0, 0, 0, 0, 0]);
  header.writeInt32BE(id, 1);
  return (event) => Buffer.concat([header, avro.toBuffer(event)]);
}

/** The j-th id of a kind of benchmark event, shaped as the usage client's ids are (a UUID, 36 bytes):
 * an id's length is what a dedupe entry costs in Redis and what the count calls carry. */
export const benchId = (kind: number, j: number): string =>
  `00000000-0000-4000-8${kind % 10}00-${j.toString(16).padStart(12, '0')}`;

/** The j-th of `n` benchmark events: resources in turn, three api_calls to one storage_gb, quantity 1,
 * spread over the hour before `now`. */
export function benchEvent(j: number, resources: readonly string[], n: number, now: number): UsageEvent {
  return {
    id: benchId(0, j),
    resourceId: resources[j % resources.length]!,
    metric: j % 4 === 0 ? 'storage_gb' : 'api_calls',
    quantity: 1,
    timestamp: now - ((n - j) % 3_600_000),
    source: null,
  };
}

/** CPU seconds Redis has used since it started (INFO cpu, user + system), summed over a Cluster's
 * masters. */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  let seconds = 0;
  for (const node of masters(redis)) {
    const info = await node.info('cpu');
    seconds +=
      Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
  }
  return seconds;
}

/** A snapshot of where this machine's CPU time has gone (Linux /proc), in seconds: the whole machine
 * (busy, idle, and stolen by the hypervisor), and per kind of process. Two snapshots subtracted
 * (`cpuSpent`) say what a run cost and whether the machine had any left. */
export interface CpuSnapshot {
  busy: number;
  idle: number;
  steal: number;
  byKind: Map<string, number>;
}

/** What a process is, from its command: the services' dependencies by name, kernel threads (no command
 * line) together, node processes by the script they run. */
function processKind(comm: string, cmdline: string, cwd: string): string {
  if (cmdline === '') return 'kernel';
  if (comm === 'redis-server') return 'redis';
  if (comm === 'postgres') return 'postgres';
  if (comm === 'java') return cmdline.includes('kafka') ? 'kafka broker' : 'java (registry)';
  // Node 24 names its main thread, and so the process, MainThread.
  if (comm === 'node' || comm.startsWith('node') || comm === 'MainThread') {
    // Node processes of other checkouts on a shared machine (their own tests and services).
    if (!`${cwd}/`.startsWith(repoRoot)) return 'node (elsewhere)';
    const service = /services\/([a-z-]+)\//.exec(cmdline)?.[1];
    if (service) return service;
    if (cmdline.includes('bare-consumer')) return 'bare consumer';
    if (cmdline.includes('steady-generator')) return 'load generator';
    return 'node (bench, tools)';
  }
  return 'other';
}

const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** This machine's `CpuSnapshot` now. */
export function cpuSnapshot(): CpuSnapshot {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number) as number[];
  const byKind = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const { comm, cpuSeconds: seconds } = readProcStat(pid);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // Another user's process: its working directory is not ours to read.
      }
      const kind = processKind(comm, cmdline, cwd);
      byKind.set(kind, (byKind.get(kind) ?? 0) + seconds);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return {
    busy: (user! + nice! + system! + irq! + softirq!) / TICKS_PER_SECOND,
    idle: (idle! + iowait!) / TICKS_PER_SECOND,
    steal: (steal ?? 0) / TICKS_PER_SECOND,
    byKind,
  };
}

/** What the machine spent between two snapshots, in cores (CPU seconds per second of `seconds`): busy,
 * idle, stolen, and per kind of process (those above 0.01 cores, most first). Processes that started
 * in between count whole, ended ones not at all. */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot, seconds: number) {
  const cores = (v: number) => Number((v / seconds).toFixed(2));
  const byKind = [...after.byKind]
    .map(([kind, s]) => [kind, cores(s - (before.byKind.get(kind) ?? 0))] as const)
    .filter(([, c]) => c >= 0.01)
    .sort((a, b) => b[1] - a[1]);
  return {
    busyCores: cores(after.busy - before.busy),
    idleCores: cores(after.idle - before.idle),
    stolenCores: cores(after.steal - before.steal),
    byKind: Object.fromEntries(byKind),
  };
}

/** The metrics of `pnpm bench:load`, each resource's in turn. */
export const STEADY_METRICS = ['api_calls', 'storage_gb', 'seats'] as const;

/** `pnpm bench:load`'s `count` resource ids, derived from `seed` (8 hex digits), so that the bench and
 * its generator process agree on them without passing 100,000 ids around. */
export const steadyResources = (seed: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${seed}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);

/** The j-th event of `pnpm bench:load`: the resources in turn, then the next metric, quantity 1, made at
 * `at`. Event j's resource-metric is (j mod R, floor(j / R) mod 3), so what was sent is known from the
 * number sent. */
export function steadyEvent(j: number, resources: readonly string[], at: number): UsageEvent {
  const r = resources.length;
  return {
    id: benchId(3, j),
    resourceId: resources[j % r]!,
    metric: STEADY_METRICS[Math.floor(j / r) % STEADY_METRICS.length]!,
    quantity: 1,
    timestamp: at,
    source: null,
  };
}
