import { randomBytes } from 'node:crypto';
import { createKafka, createRegistry, type KafkaMessage } from '@meterline/kafka';
import { createLogger } from '@meterline/runtime';
import type { TestWorld } from './isolation.ts';

export interface TopicTail<T> {
  /** decoded values in arrival order */
  values: T[];
  messages: KafkaMessage[];
  stop(): Promise<void>;
}

/** Reads a topic from its beginning for as long as the test needs, decoding Avro through the
 * registry (or JSON when the value is not in the wire format). */
export async function tailTopic<T>(world: TestWorld, topic: string): Promise<TopicTail<T>> {
  const log = createLogger('test', { level: 'error' });
  const kafka = createKafka({ brokers: world.urls.kafkaBrokers, clientId: `tail-${world.id}` }, log);
  const registry = createRegistry(world.urls.registryUrl);
  const consumer = kafka.consumer({
    groupId: `${world.groupPrefix}tail-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 100,
  });
  const tail: TopicTail<T> = {
    values: [],
    messages: [],
    stop: async () => {
      await consumer.disconnect();
    },
  };
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let joined: () => void = () => {};
  const ready = new Promise<void>((r) => {
    joined = r;
  });
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  await consumer.run({
    eachMessage: async ({ message }) => {
      tail.messages.push(message);
      const v = message.value;
      if (!v) tail.values.push(null as T);
      else if (v[0] === 0) tail.values.push((await registry.decode(v)) as T);
      else tail.values.push(JSON.parse(v.toString()) as T);
    },
  });
  await ready;
  return tail;
}
