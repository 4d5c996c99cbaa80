import { readdirSync, readFileSync } from 'node:fs';
import type { createRegistry } from '@meterline/kafka';
import { masters, type Redis } from '@meterline/redis';
import { avroSchema, type UsageEvent } from '@meterline/schemas';
import { readProcStat, TICKS_PER_SECOND } from '@meterline/test/support';

// What the benchmarks share: the events they load, their encoding, and Redis's CPU time.

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
function processKind(comm: string, cmdline: string): string {
  if (cmdline === '') return 'kernel';
  if (comm === 'redis-server') return 'redis';
  if (comm === 'postgres') return 'postgres';
  if (comm === 'java') return cmdline.includes('kafka') ? 'kafka broker' : 'java (registry)';
  if (comm === 'node' || comm.startsWith('node')) {
    const service = /services\/([a-z-]+)\//.exec(cmdline)?.[1];
    if (service) return service;
    return cmdline.includes('bare-consumer') ? 'bare consumer' : 'node (bench, tools)';
  }
  return 'other';
}

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
      const kind = processKind(comm, cmdline);
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
