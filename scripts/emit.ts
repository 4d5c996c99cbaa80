import { kafkajsSecurity, registryClientOptions } from '@meterline/kafka';
import { parseCommandLine, usageError } from '@meterline/runtime';
import { UsageClient } from '@meterline/usage-client';
import { securitySettings, settings } from './env.ts';

// `pnpm emit <resourceId> <metric> <quantity> [count]`: emits usage events with the typed client.
const USAGE = 'usage: pnpm emit <resourceId> <metric> <quantity> [count]';
const { positionals } = parseCommandLine({ options: {}, allowPositionals: true }, USAGE);
const [resourceId, metric, quantityText, countText = '1', ...extra] = positionals;
if (!resourceId || !metric || !quantityText)
  usageError('emit: resourceId, metric and quantity are required', USAGE);
if (extra.length > 0) usageError(`emit: unexpected argument ${JSON.stringify(extra[0])}`, USAGE);
const quantity = Number(quantityText);
if (!Number.isFinite(quantity))
  usageError(`emit: quantity must be a number, got ${JSON.stringify(quantityText)}`, USAGE);
if (!/^[1-9]\d*$/.test(countText))
  usageError(`emit: count must be a positive integer, got ${JSON.stringify(countText)}`, USAGE);
const env = settings();
const security = securitySettings(env);
const registryOptions = registryClientOptions(security.registry);
const client = await UsageClient.connect({
  brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  registryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  topic: env.TOPIC_USAGE_EVENTS ?? 'usage.events.v1',
  source: 'meterline-cli',
  ...kafkajsSecurity(security.kafka),
  ...(registryOptions.auth ? { registryAuth: registryOptions.auth } : {}),
  ...(registryOptions.agent ? { registryAgent: registryOptions.agent } : {}),
});
const count = Number(countText);
await Promise.all(Array.from({ length: count }, () => client.emit({ resourceId, metric, quantity })));
await client.close();
console.log(`emitted ${count} x ${quantityText} ${metric} for ${resourceId}`);
