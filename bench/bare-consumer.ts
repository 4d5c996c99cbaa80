import { batchFetchSettings, createKafka } from '@meterline/kafka';
import { createLogger } from '@meterline/runtime';

// One bare kafkajs consumer process for `pnpm bench`: it does no work with the records. It prints
// `fetch <epoch ms>` at its first fetch request and `count <n>` after every batch; the bench sums the
// counts of all its bare processes (one per ingestor process, so both sides have the same cores).
const [brokers, topic, groupId] = [
  process.env.BARE_BROKERS!,
  process.env.BARE_TOPIC!,
  process.env.BARE_GROUP!,
];
const log = createLogger('bare', { level: 'error' });
const kafka = createKafka({ brokers: brokers.split(','), clientId: 'bench-bare' }, log);
// The same fetch settings as the services' consumer.
const consumer = kafka.consumer({ groupId, ...batchFetchSettings });
let fetched = false;
consumer.on(consumer.events.FETCH_START, () => {
  if (fetched) return;
  fetched = true;
  process.stdout.write(`fetch ${Date.now()}\n`);
});
let count = 0;
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
