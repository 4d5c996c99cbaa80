import { createLogger, readEnv } from '@meterline/runtime';
import { eventually, sslListener, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { createKafka } from './client.ts';
import { kafkaEnv } from './topics.ts';

const log = createLogger('test', { level: 'silent' });

const it = worldTest('tls');

/** The service settings a TLS deployment gives, read the way every service reads them. */
function sslSettings(extra: Record<string, string> = {}) {
  const listener = sslListener();
  return readEnv(
    { kafka: kafkaEnv('tls-test') },
    {
      KAFKA_BROKERS: listener.brokers.join(','),
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      ...extra,
    },
  ).kafka;
}

describe('Kafka clients through the SSL listener', () => {
  it('produce and consume over TLS, trusting the broker by KAFKA_SSL_CA_FILE', async ({ world }) => {
    const settings = sslSettings({ KAFKA_SSL_CA_FILE: sslListener().caFile });
    const kafka = createKafka(
      { brokers: settings.kafkaBrokers, clientId: 'tls-test', security: settings.kafkaSecurity },
      log,
    );
    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 50 }, (_, i) => `tls-${world.id}-${i}`);
    await producer.send({
      topic: world.topics.dlq,
      messages: values.map((value) => ({ key: 'k', value })),
      acks: -1,
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${world.groupPrefix}tls` });
    const got: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: world.topics.dlq, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value!.toString());
      },
    });
    await eventually(async () => got.length >= values.length, { what: 'the messages read back over TLS' });
    await consumer.disconnect();
    expect(got).toEqual(values);
  });

  it('refuses a broker whose certificate it does not trust, and a plaintext client', async () => {
    // No CA given: the system's CAs do not know the self-signed development certificate.
    const untrusting = sslSettings();
    const producer = createKafka(
      { brokers: untrusting.kafkaBrokers, clientId: 'tls-untrusted', security: untrusting.kafkaSecurity },
      log,
      { retry: { retries: 0 }, connectionTimeout: 3000 },
    ).producer();
    await expect(producer.connect()).rejects.toThrow(/self[- ]signed certificate/i);

    const plain = createKafka({ brokers: untrusting.kafkaBrokers, clientId: 'tls-none' }, log, {
      retry: { retries: 0 },
      connectionTimeout: 2000,
      requestTimeout: 3000,
      authenticationTimeout: 3000,
    }).admin();
    await expect(plain.connect().then(() => plain.listTopics())).rejects.toThrow();
    await plain.disconnect().catch(() => {});
  });
});
