import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Logger } from '@meterline/runtime';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
}

const pinoLevel: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own logs go through the service's pino logger. */
export function createKafka(settings: KafkaSettings, log: Logger, extra: Partial<KafkaConfig> = {}): Kafka {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  const kafkaLog = log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    connectionTimeout: 3000,
    retry: { initialRetryTime: 200, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        // Said for every idempotent producer with a bounded retry policy, which is deliberate here.
        if (message.startsWith('Limiting retries for the idempotent producer')) return;
        kafkaLog[pinoLevel[level] ?? 'info'](rest, message);
      },
    ...extra,
  });
}

export function createRegistry(url: string, clientId = 'meterline'): SchemaRegistry {
  return new SchemaRegistry({ host: url.replace(/\/$/, ''), clientId, retry: { retries: 3 } });
}
