export type { Batch, Consumer, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
export { createKafka, createRegistry, type KafkaSettings } from './client.ts';
export { ContractCodec, subjectFor } from './codec.ts';
export {
  type BatchConsumerOptions,
  type BatchContext,
  batchFetchSettings,
  type RunningConsumer,
  startBatchConsumer,
} from './consumer.ts';
export { dlqMessage, sendToDlq } from './dlq.ts';
export { chunkMessages, defaultSendLimits, messageBytes, type SendLimits, sendAll } from './produce.ts';
export {
  connectKafka,
  defaultTopics,
  ensureTopics,
  type KafkaSettings as KafkaServiceSettings,
  kafkaEnv,
  type Topics,
  topicLayout,
} from './topics.ts';
