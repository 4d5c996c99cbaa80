import { randomBytes } from 'node:crypto';
import { createLogger } from '@meterline/runtime';
import { eventually, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { createKafka } from './client.ts';
import { createKafkaClient, kafkaClients } from './client-choice.ts';
import { sendAll } from './produce.ts';

const log = createLogger('test', { level: 'error' });

const it = worldTest('produce');

describe.each(kafkaClients)('sendAll on the real broker, %s', (client) => {
  it('delivers 30,000 messages (9 MB) to one partition, in order: one request would be refused', async ({
    world,
  }) => {
    const producer = (
      await createKafkaClient({ brokers: world.urls.kafkaBrokers, clientId: 'test', client }, log)
    ).producer({ idempotent: true });
    await producer.connect();
    const N = 30_000;
    const messages = Array.from({ length: N }, (_, i) => ({
      key: 'one-key',
      value: Buffer.concat([Buffer.from(`${i}:`), randomBytes(290)]),
    }));
    // The DLQ topic has one partition: every message lands in it.
    await sendAll(producer, world.topics.dlq, messages);
    await producer.disconnect();

    // Read back with kafkajs, whichever client sent.
    const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: 'test' }, log);
    const consumer = kafka.consumer({ groupId: `${world.groupPrefix}read` });
    const got: number[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: world.topics.dlq, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) got.push(Number(m.value!.toString('latin1').split(':')[0]));
      },
    });
    await eventually(async () => got.length >= N, { what: `${N} messages read back` });
    await consumer.disconnect();
    expect(got).toHaveLength(N);
    expect(got.every((v, i) => v === i)).toBe(true);
  });
});
