import { randomBytes } from 'node:crypto';
import { createLogger } from '@meterline/runtime';
import type { PlanFlag, UsageAlert, UsageEvent } from '@meterline/schemas';
import { eventually, type TestWorld, worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { createRegistry } from './client.ts';
import { createKafkaClient, kafkaClients } from './client-choice.ts';
import { ContractCodec, subjectFor } from './codec.ts';
import { startBatchConsumer } from './consumer.ts';

const log = createLogger('test', { level: 'warn' });

const it = worldTest('contracts');

describe('the three contracts through the real registry and broker', () => {
  const samples = {
    UsageEvent: {
      topic: (world: TestWorld) => world.topics.usageEvents,
      value: {
        id: 'e-1',
        resourceId: '7e5d8a3c-1f0b-4c1e-9d55-0a6f2b9e4c11',
        metric: 'api_calls',
        quantity: 12.5,
        timestamp: 1_764_547_200_123,
        source: 'svc',
      } satisfies UsageEvent,
    },
    UsageAlert: {
      topic: (world: TestWorld) => world.topics.alerts,
      value: {
        id: '0f8fad5b-d9cb-469f-a165-70867728950e',
        resourceId: '7e5d8a3c-1f0b-4c1e-9d55-0a6f2b9e4c11',
        plan: 'basic',
        metric: 'api_calls',
        kind: 'PACE',
        threshold: 50,
        severity: 'WARNING',
        used: 55_000,
        limit: 100_000,
        percent: 55,
        projected: 310_000.5,
        periodStart: 1_764_547_200_000,
        periodEnd: 1_767_225_600_000,
        occurredAt: 1_764_979_200_000,
      } satisfies UsageAlert,
    },
    PlanFlag: {
      topic: (world: TestWorld) => world.topics.flags,
      value: {
        resourceId: '7e5d8a3c-1f0b-4c1e-9d55-0a6f2b9e4c11',
        downgradeBlocked: true,
        blockedPlans: ['hobby', 'basic'],
        reason: "You can't move to the basic plan yet.",
        periodEnd: 1_767_225_600_000,
        updatedAt: 1_764_979_200_000,
      } satisfies PlanFlag,
    },
  } as const;

  for (const client of kafkaClients)
    for (const [contract, sample] of Object.entries(samples) as [
      keyof typeof samples,
      (typeof samples)[keyof typeof samples],
    ][]) {
      it(`${contract} on ${client}: registered under <topic>-value, produced, consumed and decoded unchanged`, async ({
        world,
      }) => {
        const registry = createRegistry(world.urls.registryUrl);
        const topic = sample.topic(world);
        const codec = new ContractCodec(registry, subjectFor(topic), contract);
        const id = await codec.schemaId();
        // Registering the same schema again gives the same id; the registry knows the subject.
        expect(await new ContractCodec(registry, subjectFor(topic), contract).schemaId()).toBe(id);
        expect(await registry.getLatestSchemaId(subjectFor(topic))).toBe(id);

        const kafka = await createKafkaClient(
          { brokers: world.urls.kafkaBrokers, clientId: 'contracts', client },
          log,
        );
        const producer = kafka.producer({ idempotent: true });
        await producer.connect();
        const bytes = await codec.encode(sample.value as never);
        expect(bytes[0]).toBe(0);
        expect(bytes.readInt32BE(1)).toBe(id);
        await producer.send({ topic, messages: [{ key: 'k', value: bytes }] });
        await producer.disconnect();

        // Read back through the services' consumer on the same client (the topic holds what the other
        // client's test produced too: the same sample).
        const got: Buffer[] = [];
        const consumer = await startBatchConsumer({
          kafka,
          groupId: `${world.groupPrefix}c-${randomBytes(3).toString('hex')}`,
          topic,
          log,
          handle: async (batch) => {
            for (const m of batch.messages) got.push(m.value!);
          },
        });
        await eventually(async () => got.length >= 1, { what: `${contract} consumed` });
        await consumer.stop();
        for (const bytes of got) expect(await codec.decode(bytes)).toEqual(sample.value);
      });
    }
});
