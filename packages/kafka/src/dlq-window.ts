import { randomBytes } from 'node:crypto';
import type { Logger } from '@meterline/runtime';
import type { Kafka } from 'kafkajs';

/** DLQ records of one reason in the window. */
export interface DlqReasonCount {
  reason: string;
  records: number;
  /** the newest record's timestamp */
  lastAt: number;
}

export interface DlqWindowReport {
  windowMs: number;
  bucketMs: number;
  /** by reason, most records first */
  reasons: DlqReasonCount[];
  /** records per bucket over the window, oldest first (the last one is the bucket in progress) */
  buckets: { start: number; records: number }[];
}

/**
 * The DLQ's records of the last `windowMs` by reason, in buckets of `bucketMs`, by each record's
 * timestamp. The DLQ keeps the original event's timestamp (DESIGN.md), so this is "bad events produced
 * in the last hour", which is also what the offsets-by-timestamp lookup that starts the read uses.
 */
export class DlqWindow {
  /** bucket start -> reason -> [records, newest timestamp] */
  private readonly buckets = new Map<number, Map<string, [number, number]>>();

  constructor(
    readonly windowMs = 3_600_000,
    readonly bucketMs = 60_000,
  ) {}

  add(reason: string, timestamp: number): void {
    const start = timestamp - (timestamp % this.bucketMs);
    let bucket = this.buckets.get(start);
    if (!bucket) {
      bucket = new Map();
      this.buckets.set(start, bucket);
    }
    const seen = bucket.get(reason);
    if (seen) {
      seen[0] += 1;
      seen[1] = Math.max(seen[1], timestamp);
    } else bucket.set(reason, [1, timestamp]);
  }

  clear(): void {
    this.buckets.clear();
  }

  report(now: number): DlqWindowReport {
    const first = now - (now % this.bucketMs) - this.windowMs + this.bucketMs;
    for (const start of this.buckets.keys()) if (start < first) this.buckets.delete(start);
    const reasons = new Map<string, DlqReasonCount>();
    const buckets: DlqWindowReport['buckets'] = [];
    for (let start = first; start <= now; start += this.bucketMs) {
      let records = 0;
      for (const [reason, [n, lastAt]] of this.buckets.get(start) ?? []) {
        records += n;
        const r = reasons.get(reason);
        if (r) {
          r.records += n;
          r.lastAt = Math.max(r.lastAt, lastAt);
        } else reasons.set(reason, { reason, records: n, lastAt });
      }
      buckets.push({ start, records });
    }
    return {
      windowMs: this.windowMs,
      bucketMs: this.bucketMs,
      reasons: [...reasons.values()].sort(
        (a, b) => b.records - a.records || a.reason.localeCompare(b.reason),
      ),
      buckets,
    };
  }
}

export interface DlqTally {
  window: DlqWindow;
  /** Resolves once the records of the window that were on the topic at the start have been read. */
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Keeps a `DlqWindow` of the DLQ topic: a consumer in a group of its own (one per process, so each
 * reads every partition), which on joining seeks each partition to the first record of the window and
 * then follows the topic. It never commits; a rejoin counts the window again from the topic.
 */
export async function startDlqTally(opts: {
  kafka: Kafka;
  topic: string;
  groupPrefix: string;
  log: Logger;
  window?: DlqWindow;
  now?: () => number;
}): Promise<DlqTally> {
  const window = opts.window ?? new DlqWindow();
  const now = opts.now ?? Date.now;
  const log = opts.log.child({ component: 'dlq-tally', topic: opts.topic });
  const admin = opts.kafka.admin();
  const consumer = opts.kafka.consumer({
    groupId: `${opts.groupPrefix}api-dlq-${randomBytes(4).toString('hex')}`,
    maxWaitTimeInMs: 250,
    sessionTimeout: 20_000,
    heartbeatInterval: 2_000,
  });
  let markCaughtUp: () => void = () => {};
  const caughtUp = new Promise<void>((resolve) => {
    markCaughtUp = resolve;
  });
  /** partition -> the end offset it had when the window was sought; gone once read up to it */
  const behind = new Map<number, number>();
  /** Records are taken only once the partitions are at the window's start (else they would count twice). */
  let sought = false;

  const seekToWindow = async (partitions: number[]) => {
    sought = false;
    window.clear();
    behind.clear();
    const [starts, ends] = await Promise.all([
      admin.fetchTopicOffsetsByTimestamp(opts.topic, now() - window.windowMs),
      admin.fetchTopicOffsets(opts.topic),
    ]);
    for (const partition of partitions) {
      const end = Number(ends.find((e) => e.partition === partition)?.high ?? 0);
      const at = Number(starts.find((s) => s.partition === partition)?.offset ?? -1);
      const start = at >= 0 ? at : end;
      consumer.seek({ topic: opts.topic, partition, offset: String(start) });
      if (start < end) behind.set(partition, end);
    }
    sought = true;
    if (behind.size === 0) markCaughtUp();
  };

  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    const partitions = event.payload.memberAssignment[opts.topic] ?? [];
    seekToWindow(partitions).catch((err: unknown) =>
      log.warn({ err }, 'could not seek the DLQ to the window; counting from the end'),
    );
  });

  await admin.connect();
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [opts.topic], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, isStale }) => {
        if (!sought || isStale()) return;
        for (const m of batch.messages) {
          const header = m.headers?.['dlq-reason'];
          const reason = (Array.isArray(header) ? header[0] : header)?.toString() || '(no reason header)';
          window.add(reason, Number(m.timestamp));
        }
        const end = behind.get(batch.partition);
        if (end !== undefined && Number(batch.lastOffset()) + 1 >= end) {
          behind.delete(batch.partition);
          if (behind.size === 0) markCaughtUp();
        }
      },
    });
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    await admin.disconnect().catch(() => {});
    throw err;
  }
  return {
    window,
    caughtUp,
    async stop() {
      await consumer.disconnect();
      await admin.disconnect();
    },
  };
}
