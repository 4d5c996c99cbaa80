/** The live page's own reader of the alert, flag and DLQ topics (ADR 0019). Every api instance must
 * see every record, so each instance joins a consumer group of its own (`<group>-<epoch>`), commits
 * nothing and starts at the topics' ends as they were when it started. It starts on the first live
 * subscriber, so an api nobody watches live never joins a group. The last records stay in a ring
 * buffer: a browser that reconnects to the same instance resumes from its last event id exactly. */
import { randomUUID } from 'node:crypto';
import {
  type Consumer,
  ContractCodec,
  createKafka,
  createRegistry,
  type KafkaMessage,
  type KafkaServiceSettings,
  subjectFor,
} from '@meterline/kafka';
import type { Logger } from '@meterline/runtime';
import type { PlanFlag, UsageAlert } from '@meterline/schemas';

/** One record of the three topics, as the live page shows it. */
export type LiveRecord =
  | { type: 'alert'; seq: number; at: number; resourceId: string; alert: UsageAlert }
  | { type: 'flag'; seq: number; at: number; resourceId: string; flag: PlanFlag }
  | {
      type: 'dlq';
      seq: number;
      at: number;
      /** The record's key: the resource id its producer gave, if any. */
      resourceId: string | null;
      reason: string;
      error: string;
      from: string;
    };

type Listener = (record: LiveRecord) => void;

export class LiveFeed {
  /** Names this run of the feed: an event id of another run (or another instance) is not resumable here. */
  readonly epoch = randomUUID().slice(0, 8);
  private seq = 0;
  private readonly buffer: LiveRecord[] = [];
  private readonly listeners = new Set<Listener>();
  private starting: Promise<void> | null = null;
  private consumer: Consumer | null = null;

  constructor(
    private readonly settings: KafkaServiceSettings,
    private readonly log: Logger,
    private readonly capacity = 2000,
  ) {}

  /** Joins the instance's group, once; resolves when the partitions are assigned (records published
   * from then on are seen; the ones published since the call began are too: it seeks to the ends it
   * read first). A failure is retried by the next call. */
  start(): Promise<void> {
    this.starting ??= this.join().catch((err: unknown) => {
      this.starting = null;
      const consumer = this.consumer;
      this.consumer = null;
      void consumer?.disconnect().catch(() => {});
      throw err;
    });
    return this.starting;
  }

  private async join(): Promise<void> {
    const { topics, kafkaBrokers, kafkaSecurity, registryUrl, registrySecurity, groupId } = this.settings;
    const kafka = createKafka(
      { brokers: kafkaBrokers, clientId: `meterline-api-live-${this.epoch}`, security: kafkaSecurity },
      this.log,
    );
    const registry = createRegistry(registryUrl, 'meterline-api-live', registrySecurity);
    const alerts = new ContractCodec<UsageAlert>(registry, subjectFor(topics.alerts), 'UsageAlert');
    const flags = new ContractCodec<PlanFlag>(registry, subjectFor(topics.flags), 'PlanFlag');
    const watched = [topics.alerts, topics.flags, topics.dlq];

    const admin = kafka.admin();
    await admin.connect();
    const ends = new Map<string, { partition: number; offset: string }[]>();
    try {
      for (const topic of watched) ends.set(topic, await admin.fetchTopicOffsets(topic));
    } finally {
      await admin.disconnect();
    }

    const consumer = kafka.consumer({
      groupId: `${groupId}-${this.epoch}`,
      // One member: nothing to wait for when it joins.
      rebalanceTimeout: 10_000,
      maxWaitTimeInMs: 100,
    });
    this.consumer = consumer;
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: watched, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        try {
          if (topic === topics.alerts && message.value)
            this.push({ type: 'alert', alert: await alerts.decode(message.value) }, message);
          else if (topic === topics.flags && message.value)
            this.push({ type: 'flag', flag: await flags.decode(message.value) }, message);
          else if (topic === topics.dlq) this.push(dlqRecord(message), message);
        } catch (err) {
          // A record the page cannot read is skipped: the page is a view, the pipeline owns the data.
          this.log.warn({ err, topic, partition, offset: message.offset }, 'live feed skipped a record');
        }
      },
    });
    for (const [topic, partitions] of ends)
      for (const p of partitions) consumer.seek({ topic, partition: p.partition, offset: p.offset });
    await joined;
    this.log.info({ group: `${groupId}-${this.epoch}` }, 'live feed joined');
  }

  private push(
    record:
      | { type: 'alert'; alert: UsageAlert }
      | { type: 'flag'; flag: PlanFlag }
      | Omit<Extract<LiveRecord, { type: 'dlq' }>, 'seq' | 'at'>,
    message: KafkaMessage,
  ): void {
    this.seq += 1;
    const at = Number(message.timestamp);
    const full: LiveRecord =
      record.type === 'alert'
        ? { ...record, seq: this.seq, at, resourceId: record.alert.resourceId }
        : record.type === 'flag'
          ? { ...record, seq: this.seq, at, resourceId: record.flag.resourceId }
          : { ...record, seq: this.seq, at };
    this.buffer.push(full);
    if (this.buffer.length > this.capacity) this.buffer.shift();
    for (const listener of this.listeners) listener(full);
  }

  /** Where the feed is now: the id of the last record it took (`<epoch>.<seq>`; an event id may add
   * `.<published ms>`, for a feed that does not know the epoch). */
  position(): string {
    return `${this.epoch}.${this.seq}`;
  }

  /** The records after `cursor` (an event id of this feed), or null when the feed cannot say: the id
   * is of another run or instance, or older than the buffer holds. */
  since(cursor: string): LiveRecord[] | null {
    const m = /^([0-9a-f]{8})\.(\d+)(?:\.\d+)?$/.exec(cursor);
    if (!m || m[1] !== this.epoch) return null;
    const after = Number(m[2]);
    const oldest = this.buffer[0]?.seq ?? this.seq + 1;
    if (after > this.seq || after < oldest - 1) return null;
    return this.buffer.filter((r) => r.seq > after);
  }

  /** The buffered records, oldest first. */
  recent(): readonly LiveRecord[] {
    return this.buffer;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    const consumer = this.consumer;
    this.consumer = null;
    await consumer?.disconnect();
  }
}

function dlqRecord(message: KafkaMessage): Omit<Extract<LiveRecord, { type: 'dlq' }>, 'seq' | 'at'> {
  const header = (name: string) => message.headers?.[name]?.toString() ?? '';
  const key = message.key?.toString('utf8') ?? '';
  return {
    type: 'dlq',
    resourceId: /^[0-9a-f-]{36}$/i.test(key) ? key.toLowerCase() : null,
    reason: header('dlq-reason') || 'unknown',
    error: header('dlq-error'),
    from: `${header('dlq-topic')}[${header('dlq-partition')}]@${header('dlq-offset')}`,
  };
}
