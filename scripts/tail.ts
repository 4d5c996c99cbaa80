import { randomBytes } from 'node:crypto';
import { createKafka, createRegistry, defaultTopics } from '@meterline/kafka';
import { createLogger, parseCommandLine, usageError } from '@meterline/runtime';
import { securitySettings, settings } from './env.ts';

// `pnpm tail [topic] [--from-beginning]`: prints each record of a Meterline topic as one JSON line,
// Avro decoded through the schema registry. Default topic: usage.alerts.v1.
const USAGE = 'usage: pnpm tail [topic] [--from-beginning]';
const { values, positionals } = parseCommandLine(
  { options: { 'from-beginning': { type: 'boolean', default: false } }, allowPositionals: true },
  USAGE,
);
if (positionals.length > 1) usageError(`tail: one topic at most, got ${positionals.length}`, USAGE);
const env = settings();
const security = securitySettings(env);
const topic = positionals[0] ?? env.TOPIC_USAGE_ALERTS ?? defaultTopics.alerts;
const fromBeginning = values['from-beginning'];
const log = createLogger('tail', { level: 'error' });
const kafka = createKafka(
  {
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
    clientId: 'meterline-tail',
    security: security.kafka,
  },
  log,
);
const registry = createRegistry(
  env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  'meterline-tail',
  security.registry,
);
const consumer = kafka.consumer({ groupId: `meterline-tail-${randomBytes(4).toString('hex')}` });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning });
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    const v = message.value;
    let value: unknown = null;
    if (v && v[0] === 0)
      value = await registry.decode(v).catch((err: Error) => `<undecodable: ${err.message}>`);
    else if (v)
      value = (() => {
        try {
          return JSON.parse(v.toString());
        } catch {
          return v.toString('base64');
        }
      })();
    const headers = Object.fromEntries(
      Object.entries(message.headers ?? {}).map(([k, h]) => [k, h?.toString()]),
    );
    console.log(
      JSON.stringify({
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString(),
        ...(Object.keys(headers).length ? { headers } : {}),
        value,
      }),
    );
  },
});
for (const s of ['SIGINT', 'SIGTERM'] as const)
  process.on(s, () => void consumer.disconnect().then(() => process.exit(0)));
