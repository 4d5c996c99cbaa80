export type { Admin, Batch, Consumer, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
export { createKafka, createRegistry, type KafkaSettings } from './client.ts';
export { createKafkaClient, type KafkaClientName, kafkaClients } from './client-choice.ts';
export { ContractCodec, subjectFor } from './codec.ts';
export {
  type BatchConsumerOptions,
  type BatchContext,
  batchFetchSettings,
  type RunningConsumer,
  startBatchConsumer,
} from './consumer.ts';
export { dlqMessage, sendToDlq } from './dlq.ts';
export {
  type DlqReasonCount,
  type DlqTally,
  DlqWindow,
  type DlqWindowReport,
  startDlqTally,
} from './dlq-window.ts';
export { consumerLag, type GroupLag, type PartitionLag, partitionLag } from './lag.ts';
export {
  chunkMessages,
  createPipelineProducer,
  defaultSendLimits,
  messageBytes,
  type SendLimits,
  sendAll,
} from './produce.ts';
export {
  type KafkaSecurity,
  kafkajsSecurity,
  kafkaSecurityEnv,
  type RegistrySecurity,
  registryClientOptions,
  registrySecurityEnv,
} from './security.ts';
export {
  connectKafka,
  defaultTopics,
  ensureTopics,
  type KafkaSettings as KafkaServiceSettings,
  kafkaEnv,
  type PipelineGroup,
  type PipelineKafkaSettings,
  pipelineGroups,
  pipelineKafkaEnv,
  type Topics,
  topicLayout,
} from './topics.ts';
