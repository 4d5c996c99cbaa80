import { TeamAccess } from '@meterline/access';
import type { Pool } from '@meterline/db';
import { DeliveryStore } from '@meterline/deliveries';
import { ContractCodec, createRegistry, subjectFor } from '@meterline/kafka';
import { ResourceStore } from '@meterline/resources';
import type { PlanCatalog } from '@meterline/rules';
import type { Logger, Registry } from '@meterline/runtime';
import type { UsageAlert } from '@meterline/schemas';
import { PlanBook } from './compose.ts';
import type { NotifierConfig } from './config.ts';
import { DeliveryWorker } from './delivery-worker.ts';
import type { AlertBatchDeps } from './handlers/alert-batch.ts';
import { createSmtpMailer, type Mailer } from './mailer.ts';
import { notifierMetrics } from './metrics.ts';

/** Builds the delivery worker (which sends and retries the recorded emails) and what an alert batch
 * needs to record them. */
export async function buildNotifierDeps(
  config: NotifierConfig,
  base: { pool: Pool; catalog: PlanCatalog; registry: Registry; log: Logger },
  opts: { mailer?: Mailer },
): Promise<{ batch: AlertBatchDeps; worker: DeliveryWorker; mailer: Mailer }> {
  const { pool, catalog, log } = base;
  const metrics = notifierMetrics(base.registry);
  const plans = await PlanBook.load(pool, catalog);
  const codec = new ContractCodec<UsageAlert>(
    createRegistry(config.registryUrl, 'meterline-notifier', config.registrySecurity),
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
  const { emailFrom: from, messageIdDomain, dashboardUrl, providerName, supportContact } = config;
  const { pollIntervalMs, retryBaseMs, retryMaxMs, giveUpMs, sendConcurrency: concurrency } = config;
  const worker = new DeliveryWorker({
    ...{ pool, store, resources: new ResourceStore(pool), mailer, plans, metrics },
    ...{ pollIntervalMs, retryBaseMs, retryMaxMs, giveUpMs, concurrency },
    email: { from, messageIdDomain, dashboardUrl, providerName, supportContact },
    log: log.child({ component: 'delivery' }),
  });
  const team = new TeamAccess(pool);
  const recorded = () => worker.wake();
  const batch = { codec, pool, store, team, policy: config.recipientPolicy, metrics, log, recorded };
  return { batch, worker, mailer };
}
