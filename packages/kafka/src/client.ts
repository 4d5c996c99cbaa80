import { createRequire } from 'node:module';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Logger } from '@meterline/runtime';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import {
  type KafkaSecurity,
  kafkajsSecurity,
  type RegistrySecurity,
  registryClientOptions,
} from './security.ts';

/** The messages of the Kafka protocol errors kafkajs retries by itself (its own table). */
const retriableErrors = new Set(
  (
    createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
      errorCodes: { message: string; retriable: boolean }[];
    }
  ).errorCodes
    .filter((e) => e.retriable)
    .map((e) => e.message),
);

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  /** TLS and SASL (KAFKA_SECURITY_PROTOCOL and friends); plaintext when absent. */
  security?: KafkaSecurity;
}

const pinoLevel: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** The pino level of a kafkajs log entry, or null to drop it. kafkajs logs every error response of the
 * broker at error level, also those it then retries (a group coordinator still loading at start, a
 * leader moving): those are warnings; if the retries run out, the caller gets the error and says so. */
export function kafkaLogLevel(
  level: number,
  entry: { message: string; error?: unknown },
): 'error' | 'warn' | 'info' | 'debug' | null {
  // Said for every idempotent producer with a bounded retry policy, which is deliberate here.
  if (entry.message.startsWith('Limiting retries for the idempotent producer')) return null;
  const mapped = pinoLevel[level] ?? 'info';
  if (
    mapped === 'error' &&
    entry.message.startsWith('Response ') &&
    typeof entry.error === 'string' &&
    retriableErrors.has(entry.error)
  )
    return 'warn';
  return mapped;
}

/** A kafkajs client whose own logs go through the service's pino logger. */
export function createKafka(settings: KafkaSettings, log: Logger, extra: Partial<KafkaConfig> = {}): Kafka {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  const kafkaLog = log.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    connectionTimeout: 3000,
    retry: { initialRetryTime: 200, retries: 8 },
    ...(settings.security ? kafkajsSecurity(settings.security) : {}),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const to = kafkaLogLevel(level, entry);
        if (to === null) return;
        const { message, ...rest } = entry;
        kafkaLog[to](rest, message);
      },
    ...extra,
  });
}

/** The schema registry client; `security` adds basic auth and a CA (SCHEMA_REGISTRY_* variables). */
export function createRegistry(
  url: string,
  clientId = 'meterline',
  security: RegistrySecurity = {},
): SchemaRegistry {
  return new SchemaRegistry({
    host: url.replace(/\/$/, ''),
    clientId,
    retry: { retries: 3 },
    ...registryClientOptions(security),
  });
}
