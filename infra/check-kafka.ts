// Smoke check of the local broker with the client the services use (kafkajs 2.2.4):
// topic creation (incl. compacted), idempotent produce, consumer group consume + commit, committed offsets.
// Run: pnpm --filter @meterline/infra exec tsx check-kafka.ts   (KAFKA_BROKERS, default 127.0.0.1:19092)
import assert from 'node:assert/strict';
// kafkajs is CommonJS: Node's ESM loader does not see all of its named exports.
import kafkajs from 'kafkajs';

const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',');
const run = `${Date.now()}`;
const eventsTopic = `infra-check.events.${run}`;
const flagsTopic = `infra-check.flags.${run}`;
const groupId = `infra-check-${run}`;

const kafka = new Kafka({ clientId: 'meterline-infra-check', brokers, logLevel: logLevel.WARN });
const admin = kafka.admin();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
const consumer = kafka.consumer({ groupId });

async function step<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work();
  console.log(`ok  ${name} (${Date.now() - started} ms)`);
  return result;
}

try {
  await admin.connect();
  await step('createTopics (3 partitions + compacted)', async () => {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: eventsTopic, numPartitions: 3, replicationFactor: 1 },
        {
          topic: flagsTopic,
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
    assert.equal(created, true);
  });

  await step('describeConfigs shows cleanup.policy=compact', async () => {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: flagsTopic, configNames: ['cleanup.policy'] }],
    });
    const entry = described.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy');
    assert.equal(entry?.configValue, 'compact');
  });

  await producer.connect();
  await step('idempotent producer send', async () => {
    const acks = await producer.sendBatch({
      acks: -1,
      topicMessages: [
        {
          topic: eventsTopic,
          messages: [0, 1, 2, 3, 4, 5].map((i) => ({ key: `resource-${i}`, value: `event-${i}` })),
        },
        { topic: flagsTopic, messages: [{ key: 'resource-1', value: 'blocked' }] },
      ],
    });
    assert.equal(acks.length > 0, true);
    for (const ack of acks) assert.equal(ack.errorCode, 0);
  });

  const received: string[] = [];
  await step('consumer group subscribe + consume + commit', async () => {
    await consumer.connect();
    await consumer.subscribe({ topics: [eventsTopic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`consumed only ${received.length}/6`)), 30_000);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ topic, partition, message }) => {
            received.push(message.value?.toString() ?? '');
            await consumer.commitOffsets([
              { topic, partition, offset: (BigInt(message.offset) + 1n).toString() },
            ]);
            if (received.length === 6) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    assert.deepEqual(received.sort(), ['event-0', 'event-1', 'event-2', 'event-3', 'event-4', 'event-5']);
  });
  await consumer.disconnect();

  await step('fetchOffsets returns the committed offsets', async () => {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [eventsTopic] });
    const highWatermarks = await admin.fetchTopicOffsets(eventsTopic);
    // A partition that got no message has no commit: kafkajs reports -1 there, the high watermark is 0.
    const committedByPartition = new Map(
      (committed?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]),
    );
    for (const { partition, high } of highWatermarks) {
      assert.equal(committedByPartition.get(partition), Number(high), `partition ${partition}`);
    }
    assert.equal(
      [...committedByPartition.values()].reduce((a, b) => a + b, 0),
      6,
    );
  });

  await step('deleteTopics', () => admin.deleteTopics({ topics: [eventsTopic, flagsTopic] }));
  console.log('kafka check passed');
} finally {
  await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
}
