import { backoffMs, type Logger, sleep } from '@meterline/runtime';
import type { Batch, Consumer, ConsumerConfig, ConsumerRunConfig, Kafka } from 'kafkajs';
import { platformaticSettings } from './platformatic.ts';
import { startPlatformaticBatchConsumer } from './platformatic-consumer.ts';
import { handleBatchWithRetry } from './retry.ts';

export interface BatchContext {
  /** false once the batch is no longer this consumer's to finish (its kafkajs runner stopped, or the
   * partition was sought elsewhere): stop early, commit nothing. */
  isCurrent(): boolean;
}

export interface BatchConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  log: Logger;
  /** Does the whole batch's work. Throwing means a dependency failed: the same batch is retried
   * with backoff, never skipped. Bad input must be handled (DLQ) inside, not thrown. */
  handle: (batch: Batch, ctx: BatchContext) => Promise<void>;
  partitionsConsumedConcurrently?: number;
  /** Let kafkajs fetch and decode a partition's next batch while this one is handled (see
   * `startBatchConsumer`). Only for handlers whose effects are idempotent per record: a crash, a stop
   * or a rebalance can then redeliver up to two batches per partition instead of one. */
  overlapFetch?: boolean;
  fromBeginning?: boolean;
  consumerConfig?: Partial<ConsumerConfig>;
}

export interface RunningConsumer {
  consumer: Consumer;
  /** Resolves once the group has been joined and partitions assigned. */
  joined: Promise<void>;
  /** Stops fetching, lets the batch in hand finish and commit, then leaves the group. */
  stop(): Promise<void>;
}

/** The services' fetch settings (the ingest benchmark's bare consumer uses them too). Large fetches make
 * large batches, and a batch's work is per resource, not per event, so the more events a resource has
 * in one batch the less each costs; hence 64 MB per fetch instead of kafkajs's 10 MB (ADR 0015). */
export const batchFetchSettings = {
  maxBytesPerPartition: 16 * 1024 * 1024,
  maxBytes: 64 * 1024 * 1024,
  maxWaitTimeInMs: 100,
} as const;

/** A consumer that commits offsets only after the work they cover is done, in order.
 *
 * kafkajs fetches, hands the batches out, and fetches again only when every handler returned. With
 * `overlapFetch`, a partition's batch is handed to a per-partition chain and the handler returns at once
 * (the fetch position moves on, the commit does not): kafkajs fetches and decodes the next batches
 * while this one is handled. A partition's batches are still handled one after another, each commits
 * only when it and every batch before it are done, and at most one waits behind the one in hand. */
export async function startBatchConsumer(opts: BatchConsumerOptions): Promise<RunningConsumer> {
  const platformatic = platformaticSettings(opts.kafka);
  if (platformatic)
    return startPlatformaticBatchConsumer(opts, platformatic, {
      ...batchFetchSettings,
      ...opts.consumerConfig,
    });
  const log = opts.log.child({ group: opts.groupId, topic: opts.topic });
  const consumer = opts.kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: 20_000,
    heartbeatInterval: 2_000,
    ...batchFetchSettings,
    ...opts.consumerConfig,
  });
  let stopping = false;
  let markJoined: () => void = () => {};
  const joined = new Promise<void>((resolve) => {
    markJoined = resolve;
  });
  consumer.on(consumer.events.GROUP_JOIN, () => markJoined());

  const handleWithRetry = (batch: Batch, ctx: BatchContext, heartbeat: () => Promise<void>) =>
    handleBatchWithRetry(opts.handle, batch, ctx, {
      stopping: () => stopping,
      log,
      betweenAttempts: heartbeat,
    });
  const nextOffset = (batch: Batch) => (BigInt(batch.lastOffset()) + 1n).toString();

  /** Per partition: the batch being handled in the background (overlapFetch only). */
  const inHand = new Map<number, Promise<boolean>>();

  const begin = async (config: ConsumerRunConfig) => {
    await consumer.connect();
    await consumer.subscribe({ topics: [opts.topic], fromBeginning: opts.fromBeginning ?? true });
    await consumer.run(config);
  };
  // kafkajs starts its consumer again after a crash only when it judges the error retriable; otherwise
  // it disconnects, and the process lives on consuming nothing (the fault suite's broker restart once
  // left an ingestor so: its group empty, the pipeline stalled). A service's consumer must come back:
  // it is started again, with backoff, until it runs or the service stops.
  let restarting = false;
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart || stopping || restarting) return;
    restarting = true;
    log.error({ err: payload.error }, 'consumer crashed and kafkajs gave up on it; starting it again');
    void (async () => {
      for (let attempt = 0; !stopping; attempt++) {
        await sleep(backoffMs(attempt, 1_000, 30_000));
        if (stopping) break;
        try {
          await begin(runConfig);
          log.info({ attempt }, 'consumer started again after its crash');
          break;
        } catch (err) {
          log.warn({ err, attempt }, 'consumer not started again yet');
        }
      }
      restarting = false;
    })();
  });

  const runConfig: ConsumerRunConfig = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 3,
    eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset, commitOffsetsIfNecessary }) => {
      if (batch.messages.length === 0) return;
      const ctx: BatchContext = { isCurrent: () => isRunning() && !isStale() };
      if (!opts.overlapFetch) {
        if (!(await handleWithRetry(batch, ctx, heartbeat))) return;
        resolveOffset(batch.lastOffset());
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: nextOffset(batch) },
        ]);
        await heartbeat();
        return;
      }

      const { partition } = batch;
      // The one before must be done (and committed) first: in order, and at most two in memory.
      const before = inHand.get(partition);
      if (before && !(await before)) return;
      if (stopping || !ctx.isCurrent()) return;
      resolveOffset(batch.lastOffset());
      const work = (async () => {
        // Given up (stopping, the runner restarting, a seek): the batch waiting behind it stops too.
        // kafkajs has fetched past it, but each of those cases starts the partition again from the
        // last commit, which is before it.
        if (!(await handleWithRetry(batch, ctx, heartbeat))) return false;
        // Straight to the group (kafkajs' consumer.commitOffsets refuses once its runner stopped, and
        // a stop waits for this commit): a failed commit is covered by the next one or redelivered.
        await commitOffsetsIfNecessary({
          topics: [{ topic: batch.topic, partitions: [{ partition, offset: nextOffset(batch) }] }],
        }).catch((err: unknown) =>
          log.warn({ err, partition }, 'offset commit failed; the next one covers it'),
        );
        await heartbeat().catch(() => {});
        return true;
      })();
      inHand.set(partition, work);
      void work.finally(() => {
        if (inHand.get(partition) === work) inHand.delete(partition);
      });
    },
  };
  await begin(runConfig);

  return {
    consumer,
    joined,
    async stop() {
      // Fetch no more, let the batches in hand finish and commit (a failing one is given up, not
      // retried), then leave the group.
      stopping = true;
      if (opts.overlapFetch) {
        consumer.pause([{ topic: opts.topic }]);
        await Promise.all(inHand.values());
      }
      await consumer.disconnect();
    },
  };
}
