import type { Batch, BatchContext, Message, Producer, Topics } from '@meterline/kafka';
import { dlqMessage, sendToDlq } from '@meterline/kafka';
import {
  type CountableEvent,
  type CounterChange,
  type CounterStore,
  countsFor,
  type LedgerEntry,
  type ResourceDirectory,
  type UsageEventDecoder,
  type UsageLedger,
  type ValidationSettings,
  validateUsageEvent,
} from '@meterline/metering';
import type { Logger } from '@meterline/runtime';
import type { UsageEvent } from '@meterline/schemas';
import type { IngestorMetrics } from '../metrics.ts';

export interface UsageBatchDeps {
  decoder: UsageEventDecoder;
  directory: ResourceDirectory;
  counters: CounterStore;
  ledger: UsageLedger;
  producer: Producer;
  topics: Topics;
  validation: ValidationSettings;
  metrics: IngestorMetrics;
  log: Logger;
}

/** One fetched batch of usage.events.v1: decode, validate, count once in Redis, record in the
 * ledger, send the bad ones to the DLQ, announce the counter changes. Throws only when a
 * dependency failed; the consumer then retries the same batch and nothing is skipped. */
export async function handleUsageBatch(deps: UsageBatchDeps, batch: Batch, ctx: BatchContext): Promise<void> {
  const started = process.hrtime.bigint();
  const now = Date.now();
  const { topic, partition } = batch;
  const rejected: Message[] = [];
  const reject = (m: Batch['messages'][number], reason: string, error: string) => {
    rejected.push(dlqMessage(m, { topic, partition }, reason, error));
    deps.metrics.dlq.inc({ reason });
  };

  const valid: { offset: string; event: UsageEvent; message: Batch['messages'][number] }[] = [];
  for (const m of batch.messages) {
    const decoded = deps.decoder.decodeKnown(m.value) ?? (await deps.decoder.decode(m.value));
    if (!decoded.ok) {
      reject(m, decoded.reason, decoded.error);
      continue;
    }
    const checked = validateUsageEvent(decoded.value, now, deps.validation);
    if (!checked.ok) reject(m, checked.reason, checked.error);
    else valid.push({ offset: m.offset, event: checked.value, message: m });
  }

  const resources = await deps.directory.getMany(
    valid.map((v) => v.event.resourceId),
    now,
  );
  const byResource = new Map<string, CountableEvent[]>();
  for (const v of valid) {
    const resource = resources.get(v.event.resourceId);
    if (!resource) {
      reject(v.message, 'unknown-resource', `resource ${v.event.resourceId} is not known`);
      continue;
    }
    if (!countsFor(resource, v.event.timestamp)) {
      reject(v.message, 'resource-not-provisioned', `resource ${v.event.resourceId} is ${resource.state}`);
      continue;
    }
    const list = byResource.get(v.event.resourceId) ?? [];
    list.push({
      offset: v.offset,
      id: v.event.id,
      metric: v.event.metric,
      quantity: v.event.quantity,
      timestamp: v.event.timestamp,
    });
    byResource.set(v.event.resourceId, list);
  }
  if (!ctx.isCurrent()) return;

  const field = `${topic}:${partition}`;
  const ledgerEntries: LedgerEntry[] = [];
  const changes: Message[] = [];
  const counted = { counted: 0, 'counted-before': 0, duplicate: 0 };
  await Promise.all(
    [...byResource].map(async ([resourceId, events]) => {
      const result = await deps.counters.count(resourceId, field, events, now);
      const countedAt = Date.now();
      const firstByMetric = new Map<string, number>();
      result.outcomes.forEach((outcome, i) => {
        const e = events[i]!;
        counted[outcome]++;
        if (outcome === 'duplicate') return;
        ledgerEntries.push({
          offset: e.offset,
          resourceId,
          metric: e.metric,
          timestamp: e.timestamp,
          quantity: e.quantity,
        });
        if (outcome === 'counted')
          deps.metrics.lagSeconds.observe(Math.max(0, countedAt - e.timestamp) / 1000);
        const k = e.metric;
        firstByMetric.set(k, Math.min(firstByMetric.get(k) ?? e.timestamp, e.timestamp));
      });
      const plan = resources.get(resourceId)!.plan;
      for (const t of result.totals) {
        const change: CounterChange = {
          resourceId,
          plan,
          metric: t.metric,
          periodKey: t.periodKey,
          used: t.used,
          at: countedAt,
          firstEventAt: firstByMetric.get(t.metric) ?? countedAt,
        };
        changes.push({ key: resourceId, value: JSON.stringify(change) });
      }
    }),
  );

  await deps.ledger.record(topic, partition, batch.lastOffset(), ledgerEntries);
  await sendToDlq(deps.producer, deps.topics.dlq, rejected);
  if (changes.length > 0)
    await deps.producer.send({ topic: deps.topics.counters, messages: changes, acks: -1 });

  for (const [outcome, n] of Object.entries(counted)) if (n > 0) deps.metrics.events.inc({ outcome }, n);
  if (rejected.length > 0) deps.metrics.events.inc({ outcome: 'dlq' }, rejected.length);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  deps.metrics.batchSeconds.observe(seconds);
  deps.log.debug(
    {
      partition,
      offsets: [batch.firstOffset(), batch.lastOffset()],
      ...counted,
      dlq: rejected.length,
      ms: Math.round(seconds * 1000),
    },
    'batch handled',
  );
}
