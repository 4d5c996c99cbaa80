import { env, type Logger } from '@meterline/runtime';
import type { Kafka } from 'kafkajs';
import { createKafka } from './client.ts';
import { createPlatformaticKafka, loadPlatformatic } from './platformatic.ts';

/** The Kafka client library the services run on (ADR 0021). */
export const kafkaClients = ['kafkajs', 'platformatic'] as const;
export type KafkaClientName = (typeof kafkaClients)[number];

/** KAFKA_CLIENT: `kafkajs` (the default) or `platformatic` (@platformatic/kafka). */
export const kafkaClientVariable = { KAFKA_CLIENT: env.oneOf(kafkaClients, { default: 'kafkajs' }) };

/** A `Kafka` on the chosen client library: kafkajs itself, or @platformatic/kafka behind its shape. */
export async function createKafkaClient(
  settings: { brokers: string[]; clientId: string; client?: KafkaClientName },
  log: Logger,
): Promise<Kafka> {
  if (settings.client !== 'platformatic') return createKafka(settings, log);
  await loadPlatformatic();
  return createPlatformaticKafka({ brokers: settings.brokers, clientId: settings.clientId, log });
}
