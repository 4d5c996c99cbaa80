import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { avroSchema, type ContractName, type PlanFlag, type UsageAlert, type UsageEvent } from './index.ts';

const samples: {
  [K in ContractName]: K extends 'UsageEvent' ? UsageEvent : K extends 'UsageAlert' ? UsageAlert : PlanFlag;
} = {
  UsageEvent: {
    id: 'e1',
    resourceId: 'r1',
    metric: 'api_calls',
    quantity: 1.5,
    timestamp: 1_764_547_200_000,
    source: null,
  },
  UsageAlert: {
    id: 'a1',
    resourceId: 'r1',
    plan: 'basic',
    metric: 'api_calls',
    kind: 'THRESHOLD',
    threshold: 90,
    severity: 'WARNING',
    used: 90,
    limit: 100,
    percent: 90,
    projected: 120.5,
    periodStart: 1_764_547_200_000,
    periodEnd: 1_767_225_600_000,
    occurredAt: 1_764_600_000_000,
  },
  PlanFlag: {
    resourceId: 'r1',
    downgradeBlocked: true,
    blockedPlans: ['hobby'],
    reason: 'because',
    periodEnd: 1_767_225_600_000,
    updatedAt: 1_764_600_000_000,
  },
};

describe('Avro contracts match the TypeScript types', () => {
  for (const name of Object.keys(samples) as ContractName[]) {
    it(`${name}: same fields, and a typed value round-trips through Avro`, () => {
      const schema = avroSchema(name);
      expect(schema.namespace).toBe('meterline.v1');
      const sample = samples[name];
      expect(schema.fields.map((f) => f.name).sort()).toEqual(Object.keys(sample).sort());
      const type = avro.Type.forSchema(schema as avro.Schema);
      expect(type.isValid(sample)).toBe(true);
      expect(type.fromBuffer(type.toBuffer(sample))).toEqual(sample);
    });
  }
});
