import type { Batch, BatchContext, Message, Producer, Topics } from '@meterline/kafka';
import { dlqMessage, sendAll, sendToDlq } from '@meterline/kafka';
import {
  type CountedGroup,
  type CounterChange,
  type CounterRebuilder,
  type CounterStore,
  CountersLostError,
  collectUsageEvents,
  counterChangeMessages,
  countsFor,
  GenerationMismatchError,
  type LedgerRow,
  type ResourceDirectory,
  type UsageEventDecoder,
  type UsageLedger,
  type ValidationSettings,
} from '@meterline/metering';
import type { Logger } from '@meterline/runtime';
import type { IngestorMetrics } from '../metrics.ts';

export interface UsageBatchDeps {
  decoder: UsageEventDecoder;
  directory: ResourceDirectory;
  counters: CounterStore;
  /** rebuilds lost counters from the ledger (ADR 0011) */
  rebuilder: CounterRebuilder;
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
  const { topic, partition, messages } = batch;
  deps.metrics.partitionLag.set({ partition: String(partition) }, Number(batch.offsetLag()));
  const rejected: Message[] = [];
  const reject = (m: Batch['messages'][number], reason: string, error: string) => {
    rejected.push(dlqMessage(m, { topic, partition }, reason, error));
    deps.metrics.dlq.inc({ reason });
  };
  // Offsets below it are in the ledger already (a redelivery after the ledger step).
  const ledgerFrom = await deps.ledger.watermark(topic, partition);

  const byResource = await collectUsageEvents(messages, deps.decoder, now, deps.validation, (m, why) =>
    reject(m, why.reason, why.error),
  );

  const resources = await deps.directory.getMany(byResource.keys(), now);
  for (const [resourceId, events] of byResource) {
    const resource = resources.get(resourceId);
    if (!resource) {
      for (const ref of events.refs)
        reject(messages[ref]!, 'unknown-resource', `resource ${resourceId} is not known`);
      byResource.delete(resourceId);
    } else if (resource.state !== 'provisioned') {
      const keep: number[] = [];
      for (let i = 0; i < events.length; i++) {
        if (countsFor(resource, events.timestamps[i]!)) keep.push(i);
        else
          reject(
            messages[events.refs[i]!]!,
            'resource-not-provisioned',
            `resource ${resourceId} is ${resource.state}`,
          );
      }
      if (keep.length === 0) byResource.delete(resourceId);
      else if (keep.length < events.length) byResource.set(resourceId, events.pick(keep));
    }
  }
  if (!ctx.isCurrent()) return;

  const field = `${topic}:${partition}`;
  const ledgerRows: LedgerRow[] = [];
  const changes: CounterChange[] = [];
  const outcomes = { counted: 0, 'counted-before': 0, duplicate: 0 };
  const work = [...byResource].map(([resourceId, events]) => ({ resourceId, events }));
  const { results, generation } = await countOrRebuild(deps, () =>
    deps.counters.countMany(field, work, now, ledgerFrom),
  );
  const countedAt = Date.now();
  work.forEach(({ resourceId }, i) => {
    const result = results[i]!;
    outcomes.counted += result.counted;
    outcomes['counted-before'] += result.countedBefore;
    outcomes.duplicate += result.duplicates;
    // A resource is in one work item per batch: its ledger rows (one per metric and hour: its groups
    // are 5-minute buckets) are the last ones added, found by a scan.
    const rowsFrom = ledgerRows.length;
    for (const g of result.groups) {
      if (g.events === 0 || !g.ledgerNew) continue;
      let row: LedgerRow | undefined;
      for (let r = rowsFrom; r < ledgerRows.length && !row; r++) {
        const candidate = ledgerRows[r]!;
        if (candidate.hour === g.hour && candidate.metric === g.metric) row = candidate;
      }
      if (row) {
        row.quantity += g.quantity;
        row.events += g.events;
      } else
        ledgerRows.push({
          resourceId,
          metric: g.metric,
          hour: g.hour,
          quantity: g.quantity,
          events: g.events,
        });
      deps.metrics.lagSeconds.observe(Math.max(0, countedAt - g.oldest) / 1000);
    }
    const plan = resources.get(resourceId)!.plan;
    for (const t of result.totals) {
      changes.push({
        resourceId,
        plan,
        metric: t.metric,
        periodKey: t.periodKey,
        used: t.used,
        at: countedAt,
        firstEventAt: oldestOf(result.groups, t.metric, countedAt),
      });
    }
  });

  await countOrRebuild(deps, () =>
    deps.ledger.record(topic, partition, ledgerFrom, batch.lastOffset(), ledgerRows, generation),
  );
  await sendToDlq(deps.producer, deps.topics.dlq, rejected);
  await sendAll(deps.producer, deps.topics.counters, counterChangeMessages(changes));

  for (const [outcome, n] of Object.entries(outcomes)) if (n > 0) deps.metrics.events.inc({ outcome }, n);
  if (rejected.length > 0) deps.metrics.events.inc({ outcome: 'dlq' }, rejected.length);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  deps.metrics.batchSeconds.observe(seconds);
  deps.log.debug(
    {
      partition,
      offsets: [batch.firstOffset(), batch.lastOffset()],
      ...outcomes,
      dlq: rejected.length,
      ms: Math.round(seconds * 1000),
    },
    'batch handled',
  );
}

/** The oldest event timestamp of a metric's groups that hold events (`none` when no group does). */
function oldestOf(groups: readonly CountedGroup[], metric: string, none: number): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const g of groups) if (g.events > 0 && g.metric === metric && g.oldest < oldest) oldest = g.oldest;
  return oldest === Number.POSITIVE_INFINITY ? none : oldest;
}

/** Runs a step of the batch; when Redis lost counters (or a rebuild did not finish), starts the rebuild
 * from the ledger before the error goes up and the batch is retried (ADR 0011). */
async function countOrRebuild<T>(deps: UsageBatchDeps, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof CountersLostError || (err instanceof GenerationMismatchError && err.ahead)) {
      deps.log.warn({ err: err.message }, 'counters lost or behind: rebuilding them from the ledger');
      await deps.rebuilder.ensure();
    }
    throw err;
  }
}
