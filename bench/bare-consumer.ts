import { batchFetchSettings, createKafka } from '@meterline/kafka';
import { createLogger } from '@meterline/runtime';

// One bare consumer process for `pnpm bench` and `pnpm bench:load`: it does no work with the records.
// It prints `fetch <epoch ms>` at its first fetch request and `count <n>` after every batch; the bench
// sums the counts of all its bare processes (one per ingestor process, so both sides have the same
// cores). BARE_CLIENT picks the client library: kafkajs (the default) or platformatic, each read the
// way the services' consumer reads it.
const [brokers, topic, groupId] = [
  process.env.BARE_BROKERS!,
  process.env.BARE_TOPIC!,
  process.env.BARE_GROUP!,
];
let count = 0;
let fetched = false;
const firstFetch = () => {
  if (fetched) return;
  fetched = true;
  process.stdout.write(`fetch ${Date.now()}\n`);
};

if ((process.env.BARE_CLIENT ?? process.env.KAFKA_CLIENT) === 'platformatic') {
  const { Consumer } = await import('@platformatic/kafka');
  const consumer = new Consumer({
    clientId: 'bench-bare',
    bootstrapBrokers: brokers.split(','),
    groupId,
    autocommit: false,
    maxBytes: batchFetchSettings.maxBytes,
    maxBytesPerPartition: batchFetchSettings.maxBytesPerPartition,
    maxWaitTime: batchFetchSettings.maxWaitTimeInMs,
  });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  stream.once('fetch', firstFetch);
  // Records come one by one; the count is printed once per turn of the event loop (about a fetch).
  let printing = false;
  stream.on('data', () => {
    count++;
    if (printing) return;
    printing = true;
    setImmediate(() => {
      printing = false;
      process.stdout.write(`count ${count}\n`);
    });
  });
  process.on('SIGTERM', () => {
    void stream
      .close()
      .then(() => consumer.close(true))
      .finally(() => process.exit(0));
  });
} else {
  const log = createLogger('bare', { level: 'error' });
  const kafka = createKafka({ brokers: brokers.split(','), clientId: 'bench-bare' }, log);
  // The same fetch settings as the services' consumer.
  const consumer = kafka.consumer({ groupId, ...batchFetchSettings });
  consumer.on(consumer.events.FETCH_START, firstFetch);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      count += batch.messages.length;
      process.stdout.write(`count ${count}\n`);
    },
  });
  process.on('SIGTERM', () => {
    void consumer.disconnect().finally(() => process.exit(0));
  });
}
