import type { Logger } from '@meterline/runtime';
import type { Admin, IHeaders, ITopicConfig, Kafka, Message, Producer, ProducerConfig } from 'kafkajs';

// `@platformatic/kafka` behind the part of kafkajs's API the services use (KAFKA_CLIENT=platformatic,
// ADR 0021): a `Kafka` whose producer and admin translate kafkajs's messages and calls, and whose
// batch consumer is `startPlatformaticBatchConsumer`. The library is loaded only when chosen: it needs
// Node >= 22.22 or >= 24.6, and the unit tests also run on an older Node 22.
type Platformatic = typeof import('@platformatic/kafka');

let loaded: Platformatic | null = null;
/** The library, loaded once (by `loadPlatformatic`, before the first client is made). */
export function platformatic(): Platformatic {
  if (!loaded) throw new Error('@platformatic/kafka is not loaded: call loadPlatformatic() first');
  return loaded;
}
export async function loadPlatformatic(): Promise<Platformatic> {
  loaded ??= await import('@platformatic/kafka');
  return loaded;
}

/** What a platformatic-backed `Kafka` carries besides kafkajs's shape: how to make its clients. */
export interface PlatformaticClientSettings {
  brokers: string[];
  clientId: string;
  log: Logger;
}
const settingsOf = Symbol('platformatic client settings');

/** The settings of a platformatic-backed `Kafka`, or undefined for a kafkajs one. */
export const platformaticSettings = (kafka: Kafka): PlatformaticClientSettings | undefined =>
  (kafka as unknown as { [settingsOf]?: PlatformaticClientSettings })[settingsOf];

const toBuffer = (v: Buffer | string | null | undefined): Buffer | undefined =>
  v === null || v === undefined ? undefined : typeof v === 'string' ? Buffer.from(v) : v;

function toHeaders(headers: IHeaders | undefined): Map<Buffer, Buffer> | undefined {
  if (!headers) return undefined;
  const out = new Map<Buffer, Buffer>();
  for (const [k, v] of Object.entries(headers)) {
    // kafkajs allows a list of values per header name: each one its own header.
    for (const x of Array.isArray(v) ? v : [v]) {
      const value = toBuffer(x as Buffer | string | undefined);
      if (value) out.set(Buffer.from(k), value);
    }
  }
  return out;
}

/** A producer with kafkajs's connect/send/disconnect over platformatic's. Keys are partitioned as
 * kafkajs and the Java client do (murmur2, positive), so that both clients put a key on one partition. */
function producerOf(settings: PlatformaticClientSettings, config: ProducerConfig = {}): Producer {
  const p = platformatic();
  let producer: import('@platformatic/kafka').Producer<Buffer, Buffer, Buffer, Buffer> | null = null;
  const make = () =>
    new p.Producer<Buffer, Buffer, Buffer, Buffer>({
      clientId: settings.clientId,
      bootstrapBrokers: settings.brokers,
      idempotent: config.idempotent ?? false,
      partitioner: p.compatibilityPartitioner,
      autocreateTopics: config.allowAutoTopicCreation ?? false,
      retries: 8,
      retryDelay: 200,
      connectTimeout: 3000,
    });
  const facade = {
    async connect() {
      const connected = producer ?? make();
      producer = connected;
      // platformatic connects on first use; fetching metadata proves the brokers answer.
      await connected.metadata({ topics: [] });
    },
    async disconnect() {
      await producer?.close();
      producer = null;
    },
    async send(record: { topic: string; messages: Message[]; acks?: number }) {
      const connected = producer ?? make();
      producer = connected;
      const messages = record.messages.map((m) => ({
        topic: record.topic,
        key: toBuffer(m.key),
        value: toBuffer(m.value),
        headers: toHeaders(m.headers),
        timestamp: m.timestamp === undefined ? undefined : BigInt(m.timestamp),
        partition: m.partition,
      }));
      const options: { messages: typeof messages; acks?: number } = { messages };
      // An idempotent producer always waits for every replica; the others ask as kafkajs's caller did.
      if (!config.idempotent) options.acks = record.acks ?? -1;
      await connected.send(options);
      return [];
    },
  };
  return facade as unknown as Producer;
}

/** An admin with what `connectKafka` and the benchmarks ask of kafkajs's. */
function adminOf(settings: PlatformaticClientSettings): Admin {
  const p = platformatic();
  let admin: import('@platformatic/kafka').Admin | null = null;
  const get = () => {
    admin ??= new p.Admin({
      clientId: settings.clientId,
      bootstrapBrokers: settings.brokers,
      retries: 8,
      retryDelay: 200,
    });
    return admin;
  };
  const facade = {
    async connect() {
      await get().metadata({ topics: [] });
    },
    async disconnect() {
      await admin?.close();
      admin = null;
    },
    listTopics: () => get().listTopics(),
    async createTopics({ topics }: { topics: ITopicConfig[]; waitForLeaders?: boolean }) {
      // One request per topic: their partition counts and configs differ.
      for (const t of topics)
        await get().createTopics({
          topics: [t.topic],
          partitions: t.numPartitions ?? 1,
          replicas: t.replicationFactor ?? -1,
          configs: (t.configEntries ?? []).map((c) => ({ name: c.name, value: c.value })),
        });
      return true;
    },
    async deleteTopics({ topics }: { topics: string[] }) {
      await get().deleteTopics({ topics });
    },
    async deleteGroups(groups: string[]) {
      await get().deleteGroups({ groups });
      return groups.map((groupId) => ({ groupId, errorCode: 0 }));
    },
  };
  return facade as unknown as Admin;
}

/** A `Kafka` backed by @platformatic/kafka (after `loadPlatformatic`). Its `consumer()` is not there:
 * the services consume through `startBatchConsumer`, which starts a platformatic consumer for it. */
export function createPlatformaticKafka(settings: PlatformaticClientSettings): Kafka {
  platformatic();
  const kafka = {
    [settingsOf]: settings,
    producer: (config?: ProducerConfig) => producerOf(settings, config),
    admin: () => adminOf(settings),
    consumer: () => {
      throw new Error('KAFKA_CLIENT=platformatic: consume through startBatchConsumer');
    },
  };
  return kafka as unknown as Kafka;
}
