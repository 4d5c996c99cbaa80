import { createLogger } from '@meterline/runtime';
import { eventually, worldTest } from '@meterline/test/support';
import type { Batch } from 'kafkajs';
import { describe, expect } from 'vitest';
import { createKafka } from './client.ts';
import { createKafkaClient, kafkaClients } from './client-choice.ts';
import { type RunningConsumer, startBatchConsumer } from './consumer.ts';

const log = createLogger('test', { level: 'error' });
const RECORDS = 3000;

// A world per client: each variant fills its own topic and commits in its own group. vitest defines
// file-scoped fixtures at the top level only, so each variant's worldTest is made here.
const variants = kafkaClients.map((client) => ({ client, it: worldTest('consumer', { partitions: 3 }) }));

describe.each(variants)('startBatchConsumer with overlapFetch on the real broker, $client', (variant) => {
  const { client, it } = variant;
  it.beforeAll(async ({ world }) => {
    const producer = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'test' }, log).producer();
    await producer.connect();
    for (let i = 0; i < RECORDS; i += 500)
      await producer.send({
        topic: world.topics.usageEvents,
        messages: Array.from({ length: 500 }, (_, k) => ({ key: `k${(i + k) % 17}`, value: `${i + k}` })),
      });
    await producer.disconnect();
  });

  it('hands each partition its batches one at a time, in order, and commits only what was handled', async ({
    world,
  }) => {
    const kafka = await createKafkaClient(
      { brokers: world.urls.kafkaBrokers, clientId: 'test', client },
      log,
    );
    // The commits are read with kafkajs, whichever client made them.
    const checker = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'test' }, log);
    const groupId = `${world.groupPrefix}overlap`;
    const handled = new Map<number, number[]>(); // partition -> offsets handled, in order
    const busy = new Set<number>();
    const problems: string[] = [];
    let failOnce = true;
    const handle = async (batch: Batch) => {
      if (busy.has(batch.partition)) problems.push(`partition ${batch.partition}: two batches at once`);
      busy.add(batch.partition);
      try {
        await new Promise((r) => setTimeout(r, 5));
        // A dependency fails once: the same batch comes again, nothing after it is handled first.
        if (failOnce && (handled.get(batch.partition)?.length ?? 0) > 100) {
          failOnce = false;
          throw new Error('dependency down');
        }
        const seen = handled.get(batch.partition) ?? [];
        for (const m of batch.messages) {
          const offset = Number(m.offset);
          const last = seen[seen.length - 1];
          if (last !== undefined && offset <= last)
            problems.push(`partition ${batch.partition}: ${offset} after ${last}`);
          seen.push(offset);
        }
        handled.set(batch.partition, seen);
      } finally {
        busy.delete(batch.partition);
      }
    };
    const start = () =>
      startBatchConsumer({
        kafka,
        groupId,
        topic: world.topics.usageEvents,
        log,
        handle,
        overlapFetch: true,
        // Small fetches: many batches per partition.
        consumerConfig: { maxBytesPerPartition: 2048, maxBytes: 6144 },
      });
    const total = () => [...handled.values()].reduce((n, offsets) => n + offsets.length, 0);

    // Stopped halfway: every batch handed out is finished and committed, nothing beyond.
    let consumer: RunningConsumer = await start();
    await eventually(async () => total() >= RECORDS / 2, {
      timeoutMs: 60_000,
      what: 'half the records handled',
    });
    await consumer.stop();
    expect(failOnce, 'the failing batch was retried').toBe(false);
    const admin = checker.admin();
    await admin.connect();
    const committed = async () =>
      new Map(
        (await admin.fetchOffsets({ groupId, topics: [world.topics.usageEvents] }))[0]!.partitions.map(
          (p) => [p.partition, Number(p.offset)],
        ),
      );
    const atStop = await committed();
    for (const [partition, offsets] of handled)
      expect(atStop.get(partition), `partition ${partition}`).toBe(offsets[offsets.length - 1]! + 1);

    // Restarted: it goes on from the commits, and every record is handled.
    consumer = await start();
    await eventually(async () => total() >= RECORDS, { timeoutMs: 60_000, what: 'every record handled' });
    await consumer.stop();
    const atEnd = await committed();
    await admin.disconnect();

    expect(problems).toEqual([]);
    expect(total()).toBe(RECORDS);
    for (const [partition, offsets] of handled) {
      expect(offsets, `partition ${partition}`).toEqual(offsets.map((_, i) => i));
      expect(atEnd.get(partition)).toBe(offsets.length);
    }
  });
});
