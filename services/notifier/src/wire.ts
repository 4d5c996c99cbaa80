import { startBatchConsumer } from '@meterline/kafka';
import type { Logger } from '@meterline/runtime';
import { type RunningService, startServiceBase } from '@meterline/service';
import type { NotifierConfig } from './config.ts';
import type { DeliveryWorker } from './delivery-worker.ts';
import { buildNotifierDeps } from './deps.ts';
import { handleAlertBatch } from './handlers/alert-batch.ts';
import type { Mailer } from './mailer.ts';

export type RunningNotifier = RunningService & { worker: DeliveryWorker };

/** The notifier's composition root. Shutdown order: not ready -> stop the consumer (its batch in
 * hand is recorded and committed) -> finish the emails being sent and record their outcome -> close
 * the SMTP pool -> close Postgres. */
export async function startNotifier(
  config: NotifierConfig,
  log: Logger,
  opts: { mailer?: Mailer } = {},
): Promise<RunningNotifier> {
  const base = await startServiceBase({
    ...{ name: 'notifier', log, plansFile: config.plansFile, kafka: config },
    database: { ...config, poolMax: config.sendConcurrency + 4 },
  });
  const { batch, worker, mailer } = await buildNotifierDeps(config, base, opts);

  // Deliveries left pending by an earlier run (a crash, an outage) go out first.
  worker.start();
  const consumer = await startBatchConsumer({
    kafka: base.kafka,
    groupId: config.groupId,
    topic: config.topics.alerts,
    log,
    handle: (records, ctx) => handleAlertBatch(batch, records, ctx),
  });
  const started = await base.running(config.opsPort, [
    ['stop consumer and commit', () => consumer.stop()],
    ['finish emails in flight', () => worker.stop()],
    ['close smtp pool', () => mailer.close()],
  ]);
  const { groupId: group, topics, smtp } = config;
  const opsPort = started.opsPort;
  log.info({ group, topic: topics.alerts, opsPort, smtp: `${smtp.host}:${smtp.port}` }, 'notifier started');
  return { ...started, joined: consumer.joined, worker };
}
