import { createLogger, readEnv } from '@meterline/runtime';
import { eventually, saslListener, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { createKafka } from './client.ts';
import { kafkaEnv } from './topics.ts';

const log = createLogger('test', { level: 'silent' });

const it = worldTest('sasl');

/** The service settings a SASL deployment gives, read the way every service reads them. */
function saslSettings(password: string) {
  const listener = saslListener();
  return readEnv(
    { kafka: kafkaEnv('sasl-test') },
    {
      KAFKA_BROKERS: listener.brokers.join(','),
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
      KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      KAFKA_SASL_MECHANISM: listener.mechanism,
      KAFKA_SASL_USERNAME: listener.username,
      KAFKA_SASL_PASSWORD: password,
    },
  ).kafka;
}

describe('Kafka clients through the SASL_PLAINTEXT listener', () => {
  it('produce and consume with the right credentials', async ({ world }) => {
    const settings = saslSettings(saslListener().password);
    const kafka = createKafka(
      { brokers: settings.kafkaBrokers, clientId: 'sasl-test', security: settings.kafkaSecurity },
      log,
    );
    const admin = kafka.admin();
    await admin.connect();
    expect(await admin.listTopics()).toContain(world.topics.dlq);
    await admin.disconnect();

    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const values = Array.from({ length: 50 }, (_, i) => `sasl-${world.id}-${i}`);
    await producer.send({
      topic: world.topics.dlq,
      messages: values.map((value) => ({ key: 'k', value })),
      acks: -1,
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${world.groupPrefix}sasl` });
    const got: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: world.topics.dlq, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value!.toString());
      },
    });
    await eventually(async () => got.length >= values.length, { what: 'the messages read back over SASL' });
    await consumer.disconnect();
    expect(got).toEqual(values);
  });

  it('refuses a wrong password with an authentication error, and a client without SASL', async () => {
    const wrong = saslSettings('not-the-password');
    const producer = createKafka(
      { brokers: wrong.kafkaBrokers, clientId: 'sasl-wrong', security: wrong.kafkaSecurity },
      log,
      { retry: { retries: 0 } },
    ).producer();
    await expect(producer.connect()).rejects.toThrow(
      /SASL PLAIN authentication failed.*Invalid username or password/,
    );

    const plain = createKafka({ brokers: wrong.kafkaBrokers, clientId: 'sasl-none' }, log, {
      retry: { retries: 0 },
      connectionTimeout: 2000,
      requestTimeout: 3000,
    }).admin();
    // The broker answers ApiVersions before authentication, then drops a client that skips it.
    await plain.connect();
    await expect(plain.listTopics()).rejects.toThrow();
    await plain.disconnect();
  });
});
