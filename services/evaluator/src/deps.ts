import { OutboxPublisher } from '@meterline/alerts';
import type { Pool } from '@meterline/db';
import { createPipelineProducer, type Kafka, type Producer } from '@meterline/kafka';
import { CounterStore, ResourceDirectory } from '@meterline/metering';
import type { Redis } from '@meterline/redis';
import type { PlanCatalog } from '@meterline/rules';
import type { Logger, Registry } from '@meterline/runtime';
import type { EvaluatorConfig } from './config.ts';
import type { EvaluationDeps } from './handlers/counter-changes.ts';
import { reevaluateResource } from './handlers/resource-changed.ts';
import { evaluatorMetrics } from './metrics.ts';
import { CurrentUsage } from './usage.ts';

export interface EvaluatorOptions {
  /** the evaluator's notion of now; tests move it to judge pace and period ends */
  clock?: () => number;
  /** fault injection for the crash tests: called after alerts are recorded, before publishing */
  afterRecord?: () => void;
}

export interface EvaluatorParts {
  deps: EvaluationDeps;
  publisher: OutboxPublisher;
  producer: Producer;
  directory: ResourceDirectory;
  usage: CurrentUsage;
  metrics: ReturnType<typeof evaluatorMetrics>;
}

/** Builds what judging counter changes needs: the outbox publisher and its producer, current usage
 * from the counters, the resource directory (whose changes re-judge a resource under its plan now). */
export async function buildEvaluatorDeps(
  config: EvaluatorConfig,
  base: { pool: Pool; redis: Redis; kafka: Kafka; catalog: PlanCatalog; registry: Registry; log: Logger },
  opts: EvaluatorOptions,
): Promise<EvaluatorParts> {
  const { pool, redis, kafka, catalog, log } = base;
  const metrics = evaluatorMetrics(base.registry);
  const producer = createPipelineProducer(kafka, { ordered: true });
  await producer.connect();
  const publisher = await OutboxPublisher.open({
    ...{ pool, redis, producer, log, registryUrl: config.registryUrl, topics: config.topics },
    registrySecurity: config.registrySecurity,
    catalogVersion: catalog.version,
    onAlert: metrics.alertPublished,
    onFlags: metrics.flagsPublished,
  });
  const usage = new CurrentUsage(
    new CounterStore(redis, { dedupeWindowSeconds: 1, periodRetentionDays: 62 }),
  );
  // Deferred: a change may arrive while the directory starts, before `deps` exists.
  const directory = await ResourceDirectory.listening(pool, log, config, (id) => {
    Promise.resolve()
      .then(() => reevaluateResource(deps, id))
      .catch((err: unknown) => log.warn({ err, resourceId: id }, 're-evaluation failed'));
  });
  const deps: EvaluationDeps = {
    paceGuards: config.paceGuards,
    downgradeRule: config.downgradeRule,
    catalog,
    directory,
    usage,
    outbox: publisher.outbox,
    flags: publisher.flags,
    clock: opts.clock ?? Date.now,
    log,
    publish: () => publisher.publish(),
    onChange: metrics.changeRead,
    ...(opts.afterRecord ? { afterRecord: opts.afterRecord } : {}),
  };
  return { deps, publisher, producer, directory, usage, metrics };
}
