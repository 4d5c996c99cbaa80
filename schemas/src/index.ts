import { readFileSync } from 'node:fs';

/** The Avro contracts of DESIGN.md. The .avsc files beside this package are the source of truth;
 * schemas.test.ts proves these types have exactly their fields. Timestamps are epoch milliseconds. */

export interface UsageEvent {
  id: string;
  resourceId: string;
  metric: string;
  quantity: number;
  timestamp: number;
  source: string | null;
}

export type AlertKind = 'THRESHOLD' | 'PACE';
export type Severity = 'INFO' | 'WARNING' | 'CRITICAL';

export interface UsageAlert {
  id: string;
  resourceId: string;
  plan: string;
  metric: string;
  kind: AlertKind;
  threshold: number;
  severity: Severity;
  used: number;
  limit: number;
  percent: number;
  projected: number | null;
  periodStart: number;
  periodEnd: number;
  occurredAt: number;
}

export interface PlanFlag {
  resourceId: string;
  downgradeBlocked: boolean;
  blockedPlans: string[];
  reason: string;
  periodEnd: number;
  updatedAt: number;
}

export type ContractName = 'UsageEvent' | 'UsageAlert' | 'PlanFlag';

const files: Record<ContractName, string> = {
  UsageEvent: 'usage-event.avsc',
  UsageAlert: 'usage-alert.avsc',
  PlanFlag: 'plan-flag.avsc',
};

/** The parsed Avro schema of a contract, read from schemas/*.avsc. */
export function avroSchema(name: ContractName): AvroRecordSchema {
  const url = new URL(`../${files[name]}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as AvroRecordSchema;
}

export interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace: string;
  fields: { name: string; type: unknown; default?: unknown }[];
}
