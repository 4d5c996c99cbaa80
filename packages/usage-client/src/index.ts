import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:http';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { avroSchema, type UsageEvent } from '@meterline/schemas';
import { Kafka, type KafkaConfig, logLevel, type Message, type Producer } from 'kafkajs';

export interface UsageClientOptions {
  brokers: string[];
  /** Confluent-compatible schema registry, e.g. http://127.0.0.1:8081/apis/ccompat/v7 */
  registryUrl: string;
  topic?: string;
  /** written into every event's `source` */
  source?: string;
  clientId?: string;
  /** how long an event may wait for others to share its request */
  lingerMs?: number;
  /** flush as soon as this many events wait (1 to 2,000: a broker refuses a request's record batch for
   * one partition above 1 MB by default, and kafkajs's work per request grows with its square) */
  maxBatch?: number;
  /** TLS to the brokers (kafkajs `ssl`) */
  ssl?: KafkaConfig['ssl'];
  /** SASL to the brokers (kafkajs `sasl`: plain, scram-sha-256, scram-sha-512) */
  sasl?: KafkaConfig['sasl'];
  /** basic auth of the registry */
  registryAuth?: { username: string; password: string };
  /** the registry's HTTP(S) agent, e.g. an https.Agent with the registry's CA */
  registryAgent?: Agent;
}

export interface EmitInput {
  resourceId: string;
  metric: string;
  quantity: number;
  /** epoch ms or Date; default now */
  timestamp?: number | Date;
  /** the idempotency key; default a fresh uuid. Reuse it when retrying the same usage. */
  id?: string;
}

const MAX_BATCH = 2_000;

/** Emits UsageEvents (Avro, Confluent wire format) keyed by resource id, batched with a linger,
 * waiting for every in-sync replica. `emit` resolves once the broker has the event; a retried send may
 * deliver it twice, and the pipeline counts it once by its id. */
export class UsageClient {
  private queue: { message: Message; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inflight = new Set<Promise<void>>();
  private closed = false;

  private constructor(
    private readonly producer: Producer,
    private readonly encode: (event: UsageEvent) => Buffer,
    private readonly opts: Required<Pick<UsageClientOptions, 'topic' | 'lingerMs' | 'maxBatch'>> & {
      source: string | null;
    },
  ) {}

  static async connect(options: UsageClientOptions): Promise<UsageClient> {
    const maxBatch = options.maxBatch ?? 500;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > MAX_BATCH)
      throw new RangeError(`maxBatch must be an integer from 1 to ${MAX_BATCH}, got ${options.maxBatch}`);
    const lingerMs = options.lingerMs ?? 20;
    if (!Number.isFinite(lingerMs) || lingerMs < 0)
      throw new RangeError(`lingerMs must be a number >= 0, got ${options.lingerMs}`);
    const topic = options.topic ?? 'usage.events.v1';
    const registry = new SchemaRegistry({
      host: options.registryUrl.replace(/\/$/, ''),
      ...(options.registryAuth ? { auth: options.registryAuth } : {}),
      ...(options.registryAgent ? { agent: options.registryAgent } : {}),
    });
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(avroSchema('UsageEvent')) },
      { subject: `${topic}-value` },
    );
    // Encoding is synchronous from here on: the Confluent header, then the Avro body.
    const type = (await registry.getSchema(id)) as unknown as { toBuffer(v: unknown): Buffer };
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    const encode = (event: UsageEvent) => Buffer.concat([header, type.toBuffer(event)]);
    const kafka = new Kafka({
      clientId: options.clientId ?? 'meterline-usage-client',
      brokers: options.brokers,
      logLevel: logLevel.ERROR,
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
      ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    });
    // Not kafkajs's idempotent producer: after a partly failed request it can reuse sequence numbers
    // the broker has written, which then acknowledges new events without writing them (ADR 0024). A
    // retried event may arrive twice instead, and is counted once by its id (ADR 0007).
    const producer = kafka.producer({
      idempotent: false,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    return new UsageClient(producer, encode, {
      topic,
      lingerMs,
      maxBatch,
      source: options.source ?? null,
    });
  }

  /** Queues the event at once (so `close()` sends it) and resolves with its id once the broker has it. */
  async emit(input: EmitInput): Promise<string> {
    if (this.closed) throw new Error('UsageClient is closed');
    const event: UsageEvent = {
      id: input.id ?? randomUUID(),
      resourceId: input.resourceId,
      metric: input.metric,
      quantity: input.quantity,
      timestamp:
        input.timestamp instanceof Date ? input.timestamp.getTime() : (input.timestamp ?? Date.now()),
      source: this.opts.source,
    };
    if (!Number.isFinite(event.quantity) || event.quantity < 0) {
      throw new RangeError(`quantity must be a finite number >= 0, got ${input.quantity}`);
    }
    const value = this.encode(event);
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ message: { key: event.resourceId, value }, resolve, reject });
      if (this.queue.length >= this.opts.maxBatch) this.flushNow();
      else this.timer ??= setTimeout(() => this.flushNow(), this.opts.lingerMs);
    });
    return event.id;
  }

  /** Sends everything waiting and resolves once the broker acknowledged it. */
  async flush(): Promise<void> {
    this.flushNow();
    await Promise.all([...this.inflight]);
  }

  /** Flushes, then disconnects. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.producer.disconnect();
  }

  private flushNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    const p = Promise.resolve()
      .then(() =>
        this.producer.send({ topic: this.opts.topic, messages: batch.map((b) => b.message), acks: -1 }),
      )
      .then(
        () => {
          for (const b of batch) b.resolve();
        },
        (err: unknown) => {
          for (const b of batch) b.reject(err);
        },
      )
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }
}
