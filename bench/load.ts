import type { createRegistry } from '@meterline/kafka';
import type { Redis } from '@meterline/redis';
import { avroSchema, type UsageEvent } from '@meterline/schemas';

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

/** The j-th of `n` benchmark events: resources in turn, three api_calls to one storage_gb, quantity 1,
 * spread over the hour before `now`. */
export function benchEvent(j: number, resources: readonly string[], n: number, now: number): UsageEvent {
  return {
    id: `b${j}`,
    resourceId: resources[j % resources.length]!,
    metric: j % 4 === 0 ? 'storage_gb' : 'api_calls',
    quantity: 1,
    timestamp: now - ((n - j) % 3_600_000),
    source: null,
  };
}

/** CPU seconds Redis has used since it started (INFO cpu, user + system). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
}
