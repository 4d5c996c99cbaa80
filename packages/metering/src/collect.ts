import type { UsageEvent } from '@meterline/schemas';
import { ResourceEvents } from './counters.ts';
import type { UsageEventDecoder } from './decode.ts';
import { Rejection, type ValidationSettings, validateUsageEvent } from './validate.ts';

/** A record as the consumer hands it over (kafkajs's message has these and more). */
export interface UsageRecord {
  offset: string;
  value: Buffer | null;
}

/** How many schema ids not seen before one batch may ask the registry about. A lookup takes ~6 ms
 * here; a batch of bad records whose first byte happens to be 0 (the Confluent magic byte) carries a
 * random "schema id" each, and 30,000 of them would take minutes, past the consumer's session timeout,
 * and the batch would come again and again. A real batch carries a handful. */
export const REGISTRY_LOOKUPS_PER_BATCH = 20;

/** Decodes and validates a batch's records one at a time, through one object, into per-resource
 * columns (in offset order; `refs` are the records' indices): nothing per event outlives this but the
 * columns, and no object is made per event. A record that cannot count goes to `reject` with why. */
export async function collectUsageEvents<R extends UsageRecord>(
  records: readonly R[],
  decoder: UsageEventDecoder,
  now: number,
  validation: ValidationSettings,
  reject: (record: R, why: Rejection) => void,
): Promise<Map<string, ResourceEvents>> {
  const byResource = new Map<string, ResourceEvents>();
  const scratch: UsageEvent = { id: '', resourceId: '', metric: '', quantity: 0, timestamp: 0, source: null };
  let lookups = 0;
  const mayAsk = () => lookups++ < REGISTRY_LOOKUPS_PER_BATCH;
  for (let i = 0; i < records.length; i++) {
    const m = records[i]!;
    const decoded = decoder.decodeKnown(m.value, scratch) ?? (await decoder.decode(m.value, scratch, mayAsk));
    if (decoded instanceof Rejection) {
      reject(m, decoded);
      continue;
    }
    const e = validateUsageEvent(decoded, now, validation, scratch);
    if (e instanceof Rejection) {
      reject(m, e);
      continue;
    }
    let events = byResource.get(e.resourceId);
    if (!events) {
      events = new ResourceEvents();
      byResource.set(e.resourceId, events);
    }
    events.push(e.id, m.offset, e.metric, e.quantity, e.timestamp, i);
  }
  return byResource;
}
