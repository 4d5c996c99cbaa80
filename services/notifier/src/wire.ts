import { StaffDirectory } from '@meterline/access';
import { loadCatalog } from '@meterline/catalog';
import { createPool, migrate } from '@meterline/db';
import { DeliveryStore } from '@meterline/deliveries';
import {
  ContractCodec,
  connectKafka,
  createRegistry,
  startBatchConsumer,
  subjectFor,
} from '@meterline/kafka';
import { ResourceStore } from '@meterline/resources';
import { createMetricsRegistry, type Logger, Shutdown, startOpsServer } from '@meterline/runtime';
import type { UsageAlert } from '@meterline/schemas';
import { PlanBook } from './compose.ts';
import type { NotifierConfig } from './config.ts';
import { DeliveryWorker } from './delivery-worker.ts';
import { handleAlertBatch } from './handlers/alert-batch.ts';
import { createSmtpMailer, type Mailer } from './mailer.ts';
import { notifierMetrics } from './metrics.ts';

export interface RunningNotifier {
  shutdown: Shutdown;
  opsPort: number;
  joined: Promise<void>;
  worker: DeliveryWorker;
  stop(): Promise<boolean>;
}

/** The notifier's composition root. Shutdown order: not ready -> stop the consumer (its batch in
 * hand is recorded and committed) -> finish the emails being sent and record their outcome -> close
 * the SMTP pool -> close Postgres. */
export async function startNotifier(
  config: NotifierConfig,
  log: Logger,
  opts: { mailer?: Mailer } = {},
): Promise<RunningNotifier> {
  const registry = createMetricsRegistry('notifier');
  const metrics = notifierMetrics(registry);
  const shutdown = new Shutdown(log);
  let accepting = false;

  const pool = createPool(config.databaseUrl, {
    schema: config.databaseSchema,
    application: 'meterline-notifier',
    max: config.sendConcurrency + 4,
  });
  await migrate(pool, { schema: config.databaseSchema });
  const catalog = await loadCatalog(pool, config.plansFile);
  const plans = await PlanBook.load(pool, catalog);
  const kafka = await connectKafka(config, 'meterline-notifier', log);
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
  const staff = new StaffDirectory(pool);
  const worker = new DeliveryWorker({
    pool,
    store,
    resources: new ResourceStore(pool),
    mailer,
    plans,
    email: {
      from: config.emailFrom,
      messageIdDomain: config.messageIdDomain,
      dashboardUrl: config.dashboardUrl,
      providerName: config.providerName,
      supportContact: config.supportContact,
    },
    concurrency: config.sendConcurrency,
    pollIntervalMs: config.pollIntervalMs,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
    giveUpMs: config.giveUpMs,
    metrics,
    log: log.child({ component: 'delivery' }),
  });

  const ops = await startOpsServer({
    port: config.opsPort,
    registry,
    readiness: { accepting: () => accepting, checks: { postgres: () => pool.query('SELECT 1') } },
  });
  const opsPort = ops.port;

  // Deliveries left pending by an earlier run (a crash, an outage) go out first.
  worker.start();
  const consumer = await startBatchConsumer({
    kafka,
    groupId: config.groupId,
    topic: config.topics.alerts,
    log,
    handle: (batch, ctx) =>
      handleAlertBatch(
        {
          codec,
          pool,
          store,
          staff,
          policy: config.recipientPolicy,
          metrics,
          log,
          recorded: () => worker.wake(),
        },
        batch,
        ctx,
      ),
  });
  accepting = true;

  shutdown
    .add('not ready', () => {
      accepting = false;
    })
    .add('stop consumer and commit', () => consumer.stop())
    .add('finish emails in flight', () => worker.stop())
    .add('close smtp pool', () => mailer.close())
    .add('close ops server', () => ops.close())
    .add('close postgres', () => pool.end());

  log.info(
    {
      group: config.groupId,
      topic: config.topics.alerts,
      opsPort,
      smtp: `${config.smtp.host}:${config.smtp.port}`,
    },
    'notifier started',
  );
  return { shutdown, opsPort, joined: consumer.joined, worker, stop: () => shutdown.run('stop') };
}
