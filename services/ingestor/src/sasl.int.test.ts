import { CounterStore } from '@meterline/metering';
import { periodOf } from '@meterline/rules';
import { createLogger } from '@meterline/runtime';
import { eventually, saslListener, seedResource, type TestWorld, worldTest } from '@meterline/test/support';
import { UsageClient } from '@meterline/usage-client';
import { describe, expect } from 'vitest';
import { readIngestorConfig } from './config.ts';
import { type RunningIngestor, startIngestor } from './wire.ts';

const log = createLogger('test', { level: 'silent' });

/** The ingestor's environment of a deployment whose brokers take only SASL (ADR 0023). */
function saslEnv(world: TestWorld, password = saslListener().password): Record<string, string> {
  const listener = saslListener();
  return {
    ...world.env,
    INGESTOR_PORT: '0',
    KAFKA_BROKERS: listener.brokers.join(','),
    KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
    KAFKA_SASL_MECHANISM: listener.mechanism,
    KAFKA_SASL_USERNAME: listener.username,
    KAFKA_SASL_PASSWORD: password,
  };
}

const it = worldTest('ingestsasl');

describe('the ingestor with SASL settings', () => {
  let ingestor: RunningIngestor | undefined;

  it.afterAll(async () => {
    await ingestor?.stop();
  });

  it('starts, joins its group and counts an event sent over SASL', async ({ world }) => {
    ingestor = await startIngestor(readIngestorConfig(saslEnv(world)), log);
    await ingestor.joined;
    const listener = saslListener();
    const resourceId = await seedResource(world.pool);
    const client = await UsageClient.connect({
      brokers: listener.brokers,
      registryUrl: world.urls.registryUrl,
      topic: world.topics.usageEvents,
      sasl: { mechanism: 'plain', username: listener.username, password: listener.password },
    });
    await client.emit({ resourceId, metric: 'api_calls', quantity: 7 });
    await client.close();
    const counters = new CounterStore(world.redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
    await eventually(
      async () => (await counters.periodUsage(resourceId, periodOf(Date.now()).key)).api_calls === 7,
      { what: 'the event counted' },
    );
  });

  it('does not start with a wrong password, and says why', async ({ world }) => {
    await expect(startIngestor(readIngestorConfig(saslEnv(world, 'wrong')), log)).rejects.toThrow(
      /SASL PLAIN authentication failed/,
    );
  });
});
