import { UsageClient } from '@meterline/usage-client';
import { settings } from './env.ts';

// `pnpm emit <resourceId> <metric> <quantity> [count]`: emits usage events with the typed client.
const [resourceId, metric, quantityText, countText] = process.argv.slice(2);
if (!resourceId || !metric || !quantityText) {
  console.error('usage: pnpm emit <resourceId> <metric> <quantity> [count]');
  process.exit(2);
}
const env = settings();
const client = await UsageClient.connect({
  brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  registryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  topic: env.TOPIC_USAGE_EVENTS ?? 'usage.events.v1',
  source: 'meterline-cli',
});
const count = Number(countText ?? 1);
await Promise.all(
  Array.from({ length: count }, () => client.emit({ resourceId, metric, quantity: Number(quantityText) })),
);
await client.close();
console.log(`emitted ${count} x ${quantityText} ${metric} for ${resourceId}`);
