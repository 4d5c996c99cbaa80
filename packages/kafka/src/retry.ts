import { backoffMs, type Logger, sleep } from '@meterline/runtime';
import type { Batch } from 'kafkajs';
import type { BatchConsumerOptions, BatchContext } from './consumer.ts';

/** Handles one batch, retrying with backoff while a dependency fails (`betweenAttempts` runs after each
 * wait, e.g. a heartbeat). false: it was given up (stopping, or the partition was taken back) and nothing
 * may be committed at or after it. Shared by both clients' consumers. */
export async function handleBatchWithRetry(
  handle: BatchConsumerOptions['handle'],
  batch: Batch,
  ctx: BatchContext,
  o: { stopping: () => boolean; log: Logger; betweenAttempts?: () => Promise<void> },
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    if (!ctx.isCurrent() || (attempt > 0 && o.stopping())) return false;
    try {
      await handle(batch, ctx);
      return ctx.isCurrent();
    } catch (err) {
      if (o.stopping()) return false;
      const wait = backoffMs(attempt, 200, 10_000);
      o.log.warn({ err, partition: batch.partition, attempt, retryInMs: wait }, 'batch failed; retrying');
      await sleep(wait);
      await o.betweenAttempts?.().catch(() => {});
    }
  }
}
