import { groupByShard } from '@meterline/redis';
import { UUID } from './validate.ts';

/** What the ingestor tells the evaluator (topic usage.counters.v1, JSON): a counter moved, with its new
 * total. One change per resource, metric and period per batch, however many events moved it, so the
 * evaluator never re-reads events. */
export interface CounterChange {
  resourceId: string;
  plan: string;
  metric: string;
  periodKey: string;
  used: number;
  /** when the ingestor updated the counter */
  at: number;
  /** the oldest event timestamp in this change, for end-to-end latency */
  firstEventAt: number;
}

/** The most changes one message carries: ~150-300 bytes each, so a message stays near `sendAll`'s 256 KB
 * request size and far below a broker's 1 MB record batch limit. */
export const CHANGES_PER_MESSAGE = 1_000;

/** A batch's changes as Kafka messages: one per Redis shard the batch touched (key: the shard number),
 * its value a JSON array of the shard's changes. A resource's changes always share a key, so they reach
 * one evaluator partition in order, as when each change was its own message keyed by resource; but a
 * batch spread thinly over many resources makes at most ~128 messages instead of one per resource
 * (producing those was a sixth of the ingestor's CPU under such a load; ADR 0008). */
export function counterChangeMessages(changes: readonly CounterChange[]): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (const [shard, list] of groupByShard(changes, (c) => c.resourceId))
    for (let from = 0; from < list.length; from += CHANGES_PER_MESSAGE)
      out.push({ key: String(shard), value: JSON.stringify(list.slice(from, from + CHANGES_PER_MESSAGE)) });
  return out;
}

/** The changes in one message: a JSON array of changes, or one change (the format before arrays, still
 * read). Entries that are not a change are counted in `bad`; an unreadable message is all bad. */
export function readCounterChanges(value: Buffer | string): { changes: CounterChange[]; bad: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString());
  } catch {
    return { changes: [], bad: 1 };
  }
  const entries = Array.isArray(parsed) ? parsed : [parsed];
  const changes: CounterChange[] = [];
  let bad = 0;
  for (const entry of entries) {
    if (isCounterChange(entry)) changes.push(entry);
    else bad++;
  }
  return { changes, bad };
}

function isCounterChange(c: unknown): c is CounterChange {
  const change = c as Partial<CounterChange> | null;
  return (
    typeof change === 'object' &&
    change !== null &&
    typeof change.resourceId === 'string' &&
    UUID.test(change.resourceId) &&
    typeof change.metric === 'string' &&
    typeof change.periodKey === 'string' &&
    /^\d{4}-\d{2}$/.test(change.periodKey) &&
    typeof change.used === 'number' &&
    Number.isFinite(change.used)
  );
}
