import { ConfigError, env, type Logger } from '@meterline/runtime';
import type { Kafka } from 'kafkajs';
import { createKafka, type KafkaSettings } from './client.ts';
import { createPlatformaticKafka, loadPlatformatic } from './platformatic.ts';

/** The Kafka client library the services run on (ADR 0021). */
export const kafkaClients = ['kafkajs', 'platformatic'] as const;
export type KafkaClientName = (typeof kafkaClients)[number];

/** KAFKA_CLIENT: `kafkajs` (the default) or `platformatic` (@platformatic/kafka). */
export const kafkaClientVariable = { KAFKA_CLIENT: env.oneOf(kafkaClients, { default: 'kafkajs' }) };

/** A `Kafka` on the chosen client library: kafkajs itself, or @platformatic/kafka behind its shape. */
export async function createKafkaClient(
  settings: KafkaSettings & { client?: KafkaClientName },
  log: Logger,
): Promise<Kafka> {
  if (settings.client !== 'platformatic') return createKafka(settings, log);
  // The adapter is measured on plaintext only (ADR 0021): refuse rather than connect without TLS/SASL.
  if (settings.security && settings.security.protocol !== 'PLAINTEXT') {
    throw new ConfigError([
      {
        variable: 'KAFKA_CLIENT',
        problem: `platformatic runs on PLAINTEXT only here, got KAFKA_SECURITY_PROTOCOL=${settings.security.protocol}; use kafkajs`,
      },
    ]);
  }
  await loadPlatformatic();
  return createPlatformaticKafka({ brokers: settings.brokers, clientId: settings.clientId, log });
}
