import type { Pool } from '@meterline/db';
import {
  ContractCodec,
  createRegistry,
  type Producer,
  type RegistrySecurity,
  subjectFor,
} from '@meterline/kafka';
import type { Redis } from '@meterline/redis';
import { type Logger, serialQueue } from '@meterline/runtime';
import type { PlanFlag, UsageAlert } from '@meterline/schemas';
import { FlagStore } from './flags.ts';
import { AlertOutbox } from './outbox.ts';

export interface OutboxPublisherDeps {
  outbox: AlertOutbox;
  flags: FlagStore;
  producer: Producer;
  alertCodec: ContractCodec<UsageAlert>;
  flagCodec: ContractCodec<PlanFlag>;
  topics: { alerts: string; flags: string };
  log: Logger;
  /** sees every alert and flag as it is published (metrics) */
  onAlert?: (alert: UsageAlert) => void;
  onFlags?: (flags: PlanFlag[]) => void;
}

const PAGE = 500;

/** Publishes what the outbox holds: alerts on usage.alerts.v1 in decision order, then changed flags on
 * plan.flags.v1. One round at a time, so alerts leave in order; a failed round (broker or Postgres down)
 * fails its callers, who retry, and does not poison the rounds after it. */
export class OutboxPublisher {
  private readonly serially = serialQueue();

  constructor(private readonly deps: OutboxPublisherDeps) {}

  /** The evaluator's outbox and flags over Postgres and Redis, published through `producer` with the
   * registry's contracts (registered before anything is decided, so a bad registry stops the start). */
  static async open(o: {
    pool: Pool;
    redis: Redis;
    producer: Producer;
    registryUrl: string;
    /** basic auth and CA of the registry (SCHEMA_REGISTRY_*) */
    registrySecurity?: RegistrySecurity;
    topics: { alerts: string; flags: string };
    catalogVersion: string;
    log: Logger;
    onAlert?: (alert: UsageAlert) => void;
    onFlags?: (flags: PlanFlag[]) => void;
  }): Promise<OutboxPublisher> {
    const schemas = createRegistry(o.registryUrl, 'meterline-evaluator', o.registrySecurity);
    const alertCodec = new ContractCodec<UsageAlert>(schemas, subjectFor(o.topics.alerts), 'UsageAlert');
    const flagCodec = new ContractCodec<PlanFlag>(schemas, subjectFor(o.topics.flags), 'PlanFlag');
    await Promise.all([alertCodec.schemaId(), flagCodec.schemaId()]);
    return new OutboxPublisher({
      ...o,
      outbox: new AlertOutbox(o.pool, o.catalogVersion),
      flags: new FlagStore(o.pool, o.redis),
      alertCodec,
      flagCodec,
    });
  }

  get outbox(): AlertOutbox {
    return this.deps.outbox;
  }

  get flags(): FlagStore {
    return this.deps.flags;
  }

  /** Runs `round` every `intervalMs` until stopped; a failed round is logged and the next one tries again. */
  every(intervalMs: number, clock: () => number): { stop(): void } {
    const timer = setInterval(() => {
      this.round(clock()).catch((err: unknown) => this.deps.log.warn({ err }, 'outbox round failed'));
    }, intervalMs);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  publish(): Promise<void> {
    return this.serially(async () => {
      const { outbox, flags, producer, alertCodec, flagCodec, topics, log } = this.deps;
      for (;;) {
        const sent = await outbox.publishPending(producer, alertCodec, topics.alerts, PAGE);
        for (const a of sent) {
          this.deps.onAlert?.(a);
          log.info(
            { alertId: a.id, resourceId: a.resourceId, metric: a.metric, kind: a.kind, tier: a.threshold },
            'alert published',
          );
        }
        if (sent.length < PAGE) break;
      }
      this.deps.onFlags?.(await flags.publishPending(producer, flagCodec, topics.flags));
    });
  }

  /** When Redis lost its copy of the flags (or this is the first start), writes it again from Postgres. */
  async restoreFlags(now: number): Promise<void> {
    const n = await this.deps.flags.restoreRedis(now);
    if (n !== null && n > 0)
      this.deps.log.warn({ flags: n }, "Redis had lost the flags' copy: written again from Postgres");
  }

  /** The periodic round: lifts the blocks whose period has ended, restores the flags' Redis copy if Redis
   * lost it, and publishes what is pending (what a broker outage held back). */
  async round(now: number): Promise<void> {
    await this.deps.flags.liftExpired(now);
    await this.restoreFlags(now);
    await this.publish();
  }
}
