import { env, envSchema, type Logger } from '@meterline/runtime';
import type { Admin, ITopicConfig, Kafka } from 'kafkajs';
import { createKafkaClient, type KafkaClientName, kafkaClientVariable } from './client-choice.ts';
import {
  type KafkaSecurity,
  kafkaSecurityOf,
  kafkaSecurityVariables,
  type RegistrySecurity,
  registrySecurityOf,
  registrySecurityVariables,
} from './security.ts';

/** Topic names of DESIGN.md; each overridable by configuration. `counters` is internal: the
 * ingestor's counter changes for the evaluator. */
export interface Topics {
  usageEvents: string;
  dlq: string;
  alerts: string;
  flags: string;
  counters: string;
}

export const defaultTopics: Topics = {
  usageEvents: 'usage.events.v1',
  dlq: 'usage.events.dlq.v1',
  alerts: 'usage.alerts.v1',
  flags: 'plan.flags.v1',
  counters: 'usage.counters.v1',
};

/** The topic names, each overridable by its TOPIC_* variable. */
const topicVariables = {
  TOPIC_USAGE_EVENTS: env.string({ default: defaultTopics.usageEvents }),
  TOPIC_USAGE_DLQ: env.string({ default: defaultTopics.dlq }),
  TOPIC_USAGE_ALERTS: env.string({ default: defaultTopics.alerts }),
  TOPIC_PLAN_FLAGS: env.string({ default: defaultTopics.flags }),
  TOPIC_USAGE_COUNTERS: env.string({ default: defaultTopics.counters }),
};

const topicsOf = (e: Record<keyof typeof topicVariables, string>): Topics => ({
  usageEvents: e.TOPIC_USAGE_EVENTS,
  dlq: e.TOPIC_USAGE_DLQ,
  alerts: e.TOPIC_USAGE_ALERTS,
  flags: e.TOPIC_PLAN_FLAGS,
  counters: e.TOPIC_USAGE_COUNTERS,
});

/** The layout of every topic, in one place. Partitions set the consumer groups' parallelism. */
export function topicLayout(
  topics: Topics,
  partitions = Number(process.env.KAFKA_PARTITIONS ?? 6),
): ITopicConfig[] {
  return [
    { topic: topics.usageEvents, numPartitions: partitions },
    {
      topic: topics.dlq,
      numPartitions: 1,
      configEntries: [
        { name: 'retention.ms', value: String(30 * 86_400_000) },
        // Twice the broker's default limit: a record the events topic took still fits with the DLQ's
        // reason headers added (otherwise the broker refuses it and its batch is retried forever).
        { name: 'max.message.bytes', value: String(2 * 1024 * 1024) },
      ],
    },
    { topic: topics.alerts, numPartitions: partitions },
    {
      topic: topics.flags,
      numPartitions: partitions,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
    { topic: topics.counters, numPartitions: partitions },
  ];
}

/** Creates the topics that are missing; existing ones are left as they are. */
export async function ensureTopics(admin: Admin, layout: ITopicConfig[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = layout.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  } catch (err) {
    // Services starting together race to create the same topics: fine if they all exist now.
    const now = new Set(await admin.listTopics());
    if (missing.some((t) => !now.has(t.topic))) throw err;
  }
}

export interface KafkaSettings {
  kafkaBrokers: string[];
  /** TLS and SASL for every client of the service (ADR 0023). */
  kafkaSecurity: KafkaSecurity;
  registryUrl: string;
  registrySecurity: RegistrySecurity;
  topics: Topics;
  /** this service's consumer group: `<CONSUMER_GROUP_PREFIX><service>` */
  groupId: string;
  /** the client library (KAFKA_CLIENT) */
  client: KafkaClientName;
}

/** A service's consumer group: `<CONSUMER_GROUP_PREFIX><service>`. */
const groupIdOf = (prefix: string, service: string) => `${prefix}${service}`;

/** The pipeline's consumers: which topic each service's group reads (its wire.ts subscribes to it). */
const CONSUMED = {
  ingestor: 'usageEvents',
  evaluator: 'counters',
  notifier: 'alerts',
} as const satisfies Record<string, keyof Topics>;

export interface PipelineGroup {
  service: keyof typeof CONSUMED;
  groupId: string;
  topic: string;
}

/** Every Meterline consumer group with the topic it reads, as the services configure them. */
export function pipelineGroups(groupPrefix: string, topics: Topics): PipelineGroup[] {
  return (Object.keys(CONSUMED) as (keyof typeof CONSUMED)[]).map((service) => ({
    service,
    groupId: groupIdOf(groupPrefix, service),
    topic: topics[CONSUMED[service]],
  }));
}

/** What a service that only watches the pipeline (the api's health page) needs: the brokers, the topic
 * names and the group prefix. Null when KAFKA_BROKERS is unset: Kafka is optional there. */
export interface PipelineKafkaSettings {
  kafkaBrokers: string[];
  kafkaSecurity: KafkaSecurity;
  topics: Topics;
  groupPrefix: string;
}

export const pipelineKafkaEnv = envSchema(
  {
    KAFKA_BROKERS: env.optionalHostPorts(),
    CONSUMER_GROUP_PREFIX: env.string({ default: 'meterline-' }),
    ...topicVariables,
    ...kafkaSecurityVariables,
  },
  (e, ctx): PipelineKafkaSettings | null => {
    const kafkaSecurity = kafkaSecurityOf(e, ctx);
    return e.KAFKA_BROKERS
      ? {
          kafkaBrokers: e.KAFKA_BROKERS,
          kafkaSecurity,
          topics: topicsOf(e),
          groupPrefix: e.CONSUMER_GROUP_PREFIX,
        }
      : null;
  },
);

/** The Kafka side of a worker's configuration, the same for every service. */
export function kafkaEnv(service: string) {
  return envSchema(
    {
      KAFKA_BROKERS: env.hostPorts(),
      SCHEMA_REGISTRY_URL: env.url(['http', 'https']),
      CONSUMER_GROUP_PREFIX: env.string({ default: 'meterline-' }),
      ...topicVariables,
      ...kafkaSecurityVariables,
      ...registrySecurityVariables,
      ...kafkaClientVariable,
    },
    (e, ctx): KafkaSettings => ({
      kafkaBrokers: e.KAFKA_BROKERS,
      kafkaSecurity: kafkaSecurityOf(e, ctx),
      registryUrl: e.SCHEMA_REGISTRY_URL,
      registrySecurity: registrySecurityOf(e, ctx),
      topics: topicsOf(e),
      groupId: groupIdOf(e.CONSUMER_GROUP_PREFIX, service),
      client: e.KAFKA_CLIENT,
    }),
  );
}

/** A service's Kafka client, with every topic of the layout created (idempotent, race-safe). */
export async function connectKafka(
  settings: Pick<KafkaSettings, 'kafkaBrokers' | 'topics'> &
    Partial<Pick<KafkaSettings, 'kafkaSecurity' | 'client'>>,
  clientId: string,
  log: Logger,
): Promise<Kafka> {
  const kafka = await createKafkaClient(
    {
      brokers: settings.kafkaBrokers,
      clientId,
      ...(settings.kafkaSecurity ? { security: settings.kafkaSecurity } : {}),
      ...(settings.client ? { client: settings.client } : {}),
    },
    log,
  );
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, topicLayout(settings.topics));
  } finally {
    await admin.disconnect();
  }
  return kafka;
}
