import type { UsageEvent } from '@meterline/schemas';
import { ResourceEvents } from './counters.ts';
import type { UsageEventDecoder } from './decode.ts';
import { Rejection, type ValidationSettings, validateUsageEvent } from './validate.ts';

/** A record as the consumer hands it over (kafkajs's message has these and more). */
export interface UsageRecord {
  offset: string;
  /** the resource id (the topic's contract), or none */
  key?: Buffer | null;
  value: Buffer | null;
}

const A = 0x61;
const F = 0x66;
const CASE_BIT = 0x20;

/** Whether a record's key names the event's resource: the same 36 characters, the key's hex digits in
 * either case (`resourceId` is lower case by now). Byte by byte: no string is made per event. */
export function keyMatches(key: Buffer, resourceId: string): boolean {
  if (key.length !== resourceId.length) return false;
  for (let i = 0; i < key.length; i++) {
    const expected = resourceId.charCodeAt(i);
    const byte = key[i]!;
    if (byte === expected) continue;
    if (expected >= A && expected <= F && (byte | CASE_BIT) === expected) continue;
    return false;
  }
  return true;
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
    // The topic's contract keys a record by its resource: one filed under a key that names something else
    // is a producer's bug or a forgery, and which resource it meant cannot be told, so it counts for
    // neither. A record without a key claims nothing else and counts (docs/contracts.md).
    if (m.key && m.key.length > 0 && !keyMatches(m.key, e.resourceId)) {
      reject(
        m,
        new Rejection(
          'key-mismatch',
          `the record's key ${JSON.stringify(m.key.toString('utf8').slice(0, 80))} is not its resourceId ${e.resourceId}`,
        ),
      );
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
