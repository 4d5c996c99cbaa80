/** The pipeline's health figures (ADR 0018), read where each one lives: consumer lag from the Kafka
 * admin API, the DLQ's last hour from the DLQ topic, deliveries through packages/deliveries, Redis
 * memory from INFO. The console's health page and the api's metrics both read them from here. */

import type { Pool } from '@meterline/db';
import { type DeliveryBacklog, deliveryBacklog } from '@meterline/deliveries';
import {
  type Admin,
  consumerLag,
  createKafka,
  type DlqTally,
  type DlqWindowReport,
  type GroupLag,
  type Kafka,
  type PipelineGroup,
  type PipelineKafkaSettings,
  pipelineGroups,
  startDlqTally,
} from '@meterline/kafka';
import { type Redis, type RedisMemory, redisMemory } from '@meterline/redis';
import type { Logger } from '@meterline/runtime';

/** A figure, or why it could not be read: one source down does not hide the others. */
export type Figure<T> = { ok: true; value: T } | { ok: false; error: string };

export interface PipelineHealthReport {
  at: number;
  /** null: the api has no Kafka settings (KAFKA_BROKERS unset) */
  kafka: {
    groups: { group: PipelineGroup; lag: Figure<GroupLag> }[];
    dlqTopic: string;
    /** `complete` false: the window is still being read from the topic */
    dlq: Figure<DlqWindowReport & { complete: boolean }>;
  } | null;
  deliveries: Figure<DeliveryBacklog>;
  redis: Figure<RedisMemory>;
}

const DAY = 86_400_000;

export interface PipelineHealthOptions {
  pool: Pool;
  redis: Redis;
  kafka: PipelineKafkaSettings | null;
  log: Logger;
  now?: () => number;
  /** A report is reused for this long: a page and a scrape at once read the sources once. */
  cacheMs?: number;
  /** How long a read waits for a source (a broker that does not answer must not hang the page). */
  timeoutMs?: number;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

async function figure<T>(work: () => Promise<T>, ms: number, what: string): Promise<Figure<T>> {
  try {
    return { ok: true, value: await withTimeout(work(), ms, what) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

export class PipelineHealth {
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly timeoutMs: number;
  private readonly groups: PipelineGroup[];
  private kafka: Kafka | null = null;
  private admin: Promise<Admin> | null = null;
  private tally: Promise<DlqTally> | null = null;
  private last: { at: number; report: Promise<PipelineHealthReport> } | null = null;
  private stopped = false;

  constructor(private readonly opts: PipelineHealthOptions) {
    this.now = opts.now ?? Date.now;
    this.cacheMs = opts.cacheMs ?? 5_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.groups = opts.kafka ? pipelineGroups(opts.kafka.groupPrefix, opts.kafka.topics) : [];
  }

  /** The figures, at most `cacheMs` old. */
  read(): Promise<PipelineHealthReport> {
    const at = Date.now();
    if (this.last && at - this.last.at < this.cacheMs) return this.last.report;
    const report = this.readNow();
    this.last = { at, report };
    return report;
  }

  private async readNow(): Promise<PipelineHealthReport> {
    const ms = this.timeoutMs;
    const [kafka, deliveries, redis] = await Promise.all([
      this.readKafka(),
      figure(() => deliveryBacklog(this.opts.pool, this.now() - DAY), ms, 'Postgres'),
      figure(() => redisMemory(this.opts.redis), ms, 'Redis'),
    ]);
    return { at: this.now(), kafka, deliveries, redis };
  }

  private async readKafka(): Promise<PipelineHealthReport['kafka']> {
    const settings = this.opts.kafka;
    if (!settings) return null;
    const ms = this.timeoutMs;
    const [groups, dlq] = await Promise.all([
      Promise.all(
        this.groups.map(async (group) => ({
          group,
          lag: await figure(async () => consumerLag(await this.adminClient(), group), ms, 'Kafka'),
        })),
      ),
      // Its first read also joins the tally's group and reads the window: it gets twice as long.
      figure(() => this.readDlq(), 2 * ms, 'the DLQ topic'),
    ]);
    return { groups, dlqTopic: settings.topics.dlq, dlq };
  }

  private client(): Kafka {
    const settings = this.opts.kafka!;
    this.kafka ??= createKafka(
      { brokers: settings.kafkaBrokers, clientId: 'meterline-api-health', security: settings.kafkaSecurity },
      this.opts.log,
      // A page waits on it: a broker that is down is said so soon, and tried again on the next read.
      { retry: { initialRetryTime: 200, retries: 2 } },
    );
    return this.kafka;
  }

  private adminClient(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.client().admin();
      this.admin = admin.connect().then(() => admin);
      this.admin.catch(() => {
        this.admin = null;
      });
    }
    return this.admin;
  }

  /** The DLQ's window, from a tally started on the first read (a scrape or a page view) and kept
   * following the topic; the first read waits for it to have read the window, within the timeout. */
  private async readDlq(): Promise<DlqWindowReport & { complete: boolean }> {
    const settings = this.opts.kafka!;
    if (!this.tally) {
      const started = startDlqTally({
        kafka: this.client(),
        topic: settings.topics.dlq,
        groupPrefix: settings.groupPrefix,
        log: this.opts.log,
        now: this.now,
      });
      this.tally = started;
      started.catch(() => {
        if (this.tally === started) this.tally = null;
      });
    }
    const tally = await this.tally;
    const complete = await Promise.race([
      tally.caughtUp.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), this.timeoutMs).unref()),
    ]);
    return { ...tally.window.report(this.now()), complete };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const tally = await this.tally?.catch(() => null);
    await tally?.stop();
    const admin = await this.admin?.catch(() => null);
    await admin?.disconnect();
  }
}
