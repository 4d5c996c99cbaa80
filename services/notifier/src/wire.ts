import { TeamAccess } from '@meterline/access';
import { DeliveryStore } from '@meterline/deliveries';
import { ContractCodec, createRegistry, startBatchConsumer, subjectFor } from '@meterline/kafka';
import { ResourceStore } from '@meterline/resources';
import type { Logger } from '@meterline/runtime';
import type { UsageAlert } from '@meterline/schemas';
import { type RunningService, startServiceBase } from '@meterline/service';
import { PlanBook } from './compose.ts';
import type { NotifierConfig } from './config.ts';
import { DeliveryWorker } from './delivery-worker.ts';
import { handleAlertBatch } from './handlers/alert-batch.ts';
import { createSmtpMailer, type Mailer } from './mailer.ts';
import { notifierMetrics } from './metrics.ts';

export type RunningNotifier = RunningService & { worker: DeliveryWorker };

/** The notifier's composition root. Shutdown order: not ready -> stop the consumer (its batch in
 * hand is recorded and committed) -> finish the emails being sent and record their outcome -> close
 * the SMTP pool -> close Postgres. */
export async function startNotifier(
  config: NotifierConfig,
  log: Logger,
  opts: { mailer?: Mailer } = {},
): Promise<RunningNotifier> {
  const { pool, kafka, catalog, registry, running } = await startServiceBase({
    name: 'notifier',
    log,
    database: { ...config, poolMax: config.sendConcurrency + 4 },
    plansFile: config.plansFile,
    kafka: config,
  });
  const metrics = notifierMetrics(registry);
  const plans = await PlanBook.load(pool, catalog);
  const codec = new ContractCodec<UsageAlert>(
    createRegistry(config.registryUrl, 'meterline-notifier'),
    subjectFor(config.topics.alerts),
    'UsageAlert',
  );

  const store = new DeliveryStore(pool, config.coalesceMs);
  const mailer =
    opts.mailer ??
    createSmtpMailer(config.smtp, {
      maxConnections: config.sendConcurrency,
      timeoutMs: config.smtpTimeoutMs,
    });
  const team = new TeamAccess(pool);
  const { emailFrom: from, messageIdDomain, dashboardUrl, providerName, supportContact } = config;
  const { pollIntervalMs, retryBaseMs, retryMaxMs, giveUpMs, sendConcurrency: concurrency } = config;
  const worker = new DeliveryWorker({
    ...{ pool, store, resources: new ResourceStore(pool), mailer, plans, metrics },
    ...{ pollIntervalMs, retryBaseMs, retryMaxMs, giveUpMs, concurrency },
    email: { from, messageIdDomain, dashboardUrl, providerName, supportContact },
    log: log.child({ component: 'delivery' }),
  });
  const recorded = () => worker.wake();
  const batchDeps = { codec, pool, store, team, policy: config.recipientPolicy, metrics, log, recorded };

  // Deliveries left pending by an earlier run (a crash, an outage) go out first.
  worker.start();
  const consumer = await startBatchConsumer({
    kafka,
    groupId: config.groupId,
    topic: config.topics.alerts,
    log,
    handle: (batch, ctx) => handleAlertBatch(batchDeps, batch, ctx),
  });
  const started = await running(config.opsPort, [
    ['stop consumer and commit', () => consumer.stop()],
    ['finish emails in flight', () => worker.stop()],
    ['close smtp pool', () => mailer.close()],
  ]);
  log.info(
    {
      group: config.groupId,
      topic: config.topics.alerts,
      opsPort: started.opsPort,
      smtp: `${config.smtp.host}:${config.smtp.port}`,
    },
    'notifier started',
  );
  return { ...started, joined: consumer.joined, worker };
}
