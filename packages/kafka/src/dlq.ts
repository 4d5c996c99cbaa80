import type { IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';
import { sendAll } from './produce.ts';

/** The DLQ record of DESIGN.md: the original key and bytes unchanged, with headers saying why and
 * where from. */
export function dlqMessage(
  original: KafkaMessage,
  from: { topic: string; partition: number },
  reason: string,
  error: string,
): Message {
  const headers: IHeaders = {
    ...(original.headers ?? {}),
    'dlq-reason': reason,
    'dlq-error': error.slice(0, 2000),
    'dlq-topic': from.topic,
    'dlq-partition': String(from.partition),
    'dlq-offset': original.offset,
  };
  return { key: original.key, value: original.value, headers, timestamp: original.timestamp };
}

/** Sends a batch's DLQ records, however many (a flood of bad events can fill a whole fetch). */
export async function sendToDlq(producer: Producer, dlqTopic: string, messages: Message[]): Promise<void> {
  await sendAll(producer, dlqTopic, messages);
}
