import { EventEmitter } from 'node:events';
import type { Message as PlatformaticMessage } from '@platformatic/kafka';
import type { Batch, Consumer, IHeaders, KafkaMessage } from 'kafkajs';
import type { BatchConsumerOptions, BatchContext, RunningConsumer } from './consumer.ts';
import { type PlatformaticClientSettings, platformatic } from './platformatic.ts';
import { handleBatchWithRetry } from './retry.ts';

// `startBatchConsumer` on @platformatic/kafka (KAFKA_CLIENT=platformatic, ADR 0021), with the same
// contract as on kafkajs: a partition's batches are handled one after another, in order; each commits
// only when it is done, and a failing one is retried, never skipped. platformatic delivers a stream of
// single records; the records that arrive together (one fetch) are gathered per partition into a batch
// shaped as kafkajs's, so the handlers do not know which client fetched them.

const GROUP_JOIN = 'consumer.group_join';

/** platformatic's record as a kafkajs `KafkaMessage`. */
function kafkajsMessage(m: PlatformaticMessage): KafkaMessage {
  const headers: IHeaders = {};
  for (const [k, v] of m.headers) headers[k.toString()] = v;
  return {
    key: m.key ?? null,
    value: m.value ?? null,
    headers,
    offset: m.offset.toString(),
    timestamp: m.timestamp.toString(),
    attributes: 0,
  } as unknown as KafkaMessage;
}

function batchOf(topic: string, partition: number, records: PlatformaticMessage[], lag: () => string): Batch {
  const messages = records.map(kafkajsMessage);
  const last = messages[messages.length - 1]!.offset;
  return {
    topic,
    partition,
    highWatermark: (BigInt(last) + 1n + BigInt(lag())).toString(),
    messages,
    isEmpty: () => messages.length === 0,
    firstOffset: () => messages[0]!.offset,
    lastOffset: () => last,
    offsetLag: lag,
    offsetLagLow: lag,
  } as Batch;
}

export async function startPlatformaticBatchConsumer(
  opts: BatchConsumerOptions,
  settings: PlatformaticClientSettings,
  fetch: { maxBytesPerPartition: number; maxBytes: number; maxWaitTimeInMs: number },
): Promise<RunningConsumer> {
  const p = platformatic();
  const log = opts.log.child({ group: opts.groupId, topic: opts.topic, client: 'platformatic' });
  const consumer = new p.Consumer({
    clientId: settings.clientId,
    bootstrapBrokers: settings.brokers,
    groupId: opts.groupId,
    sessionTimeout: 20_000,
    heartbeatInterval: 2_000,
    autocommit: false,
    maxBytes: fetch.maxBytes,
    maxBytesPerPartition: fetch.maxBytesPerPartition,
    maxWaitTime: fetch.maxWaitTimeInMs,
    retries: 8,
    retryDelay: 200,
  });
  // What the services listen to on kafkajs's consumer: the group joined.
  const events = new EventEmitter();
  let markJoined: () => void = () => {};
  const joined = new Promise<void>((resolve) => {
    markJoined = resolve;
  });
  consumer.on('consumer:group:join', () => {
    markJoined();
    events.emit(GROUP_JOIN);
  });
  // The lag per partition, for `batch.offsetLag()`: from platformatic's lag monitor.
  const lags = new Map<number, bigint>();
  consumer.on('consumer:lag', (offsets) => {
    for (const [topic, perPartition] of offsets)
      if (topic === opts.topic)
        perPartition.forEach((lag, partition) => {
          lags.set(partition, lag);
        });
  });
  consumer.on('consumer:lag:error', (err) => log.debug({ err }, 'lag not read'));

  let stopping = false;
  const stream = await consumer.consume({
    topics: [opts.topic],
    mode: 'committed',
    fallbackMode: (opts.fromBeginning ?? true) ? 'earliest' : 'latest',
    autocommit: false,
    maxBytes: fetch.maxBytes,
    maxBytesPerPartition: fetch.maxBytesPerPartition,
    maxWaitTime: fetch.maxWaitTimeInMs,
  });
  consumer.startLagMonitoring({ topics: [opts.topic] }, 5_000);
  stream.on('error', (err) => log.error({ err }, 'consumer stream failed'));

  /** Per partition: the chain of its batches, and how many wait in it without being started. */
  const chains = new Map<number, Promise<void>>();
  const waiting = new Map<number, number>();
  /** The group generation a partition's work was given up in: its later batches of it go too. */
  const abandoned = new Map<number, number>();
  const busy = () => [...waiting.values()].some((n) => n > 0);
  // With overlapFetch, one batch per partition may wait behind the one in hand while the stream
  // fetches on; without it, nothing is fetched while a batch is in hand.
  const throttle = () => {
    const held = opts.overlapFetch ? [...waiting.values()].some((n) => n > 1) : chains.size > 0;
    if (held || stopping) stream.pause();
    else stream.resume();
  };

  const handleWithRetry = (batch: Batch, ctx: BatchContext) =>
    handleBatchWithRetry(opts.handle, batch, ctx, { stopping: () => stopping, log });

  const enqueue = (partition: number, records: PlatformaticMessage[]) => {
    const generation = consumer.generationId;
    // Current while the group generation it was fetched in lasts. A stop is not a loss of the
    // partition: the batch in hand finishes and commits, as on kafkajs (whose isRunning() stays true
    // until the stop has waited for it); the batches not yet started are dropped below.
    const ctx: BatchContext = {
      isCurrent: () => consumer.generationId === generation && abandoned.get(partition) !== generation,
    };
    const lag = () => String(lags.get(partition) ?? 0n);
    const last = records[records.length - 1]!;
    waiting.set(partition, (waiting.get(partition) ?? 0) + 1);
    const before = chains.get(partition) ?? Promise.resolve();
    const work = before.then(async () => {
      waiting.set(partition, waiting.get(partition)! - 1);
      throttle();
      if (stopping || !ctx.isCurrent()) return;
      const batch = batchOf(opts.topic, partition, records, lag);
      if (!(await handleWithRetry(batch, ctx))) {
        abandoned.set(partition, generation);
        return;
      }
      // The last record's commit: the partition's offset after it, merged by platformatic so that a
      // later commit is never overwritten by an earlier one.
      await new Promise<void>((resolve) =>
        last.commit((err?: Error) => {
          if (err) log.warn({ err, partition }, 'offset commit failed; the next one covers it');
          resolve();
        }),
      );
    });
    chains.set(partition, work);
    void work.finally(() => {
      if (chains.get(partition) === work) chains.delete(partition);
      throttle();
    });
    throttle();
  };

  // The records of one fetch arrive one after another in the same turn of the event loop: gathered
  // until it ends, then handed out per partition.
  const gathered = new Map<number, PlatformaticMessage[]>();
  let flushing = false;
  const flush = () => {
    flushing = false;
    for (const [partition, records] of gathered) enqueue(partition, records);
    gathered.clear();
  };
  stream.on('data', (m: PlatformaticMessage) => {
    if (stopping) return;
    const list = gathered.get(m.partition);
    if (list) list.push(m);
    else gathered.set(m.partition, [m]);
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  });

  const facade = {
    events: { GROUP_JOIN },
    on: (event: string, listener: () => void) => events.on(event, listener),
  };
  return {
    consumer: facade as unknown as Consumer,
    joined,
    async stop() {
      // Fetch no more, let the batches in hand finish and commit (a failing one is given up), then
      // leave the group.
      stopping = true;
      stream.pause();
      while (busy() || chains.size > 0) await Promise.all(chains.values());
      consumer.stopLagMonitoring();
      await stream.close();
      await consumer.close();
    },
  };
}
