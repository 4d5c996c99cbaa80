import type { TeamAccess } from '@meterline/access';
import type { Pool } from '@meterline/db';
import { type DeliveryStore, deliveryTo, type ReceivedAlert } from '@meterline/deliveries';
import type { Batch, BatchContext, ContractCodec } from '@meterline/kafka';
import { chooseRecipients, type RecipientPolicy } from '@meterline/notifications';
import { loadAudiences } from '@meterline/resources';
import type { Logger } from '@meterline/runtime';
import type { UsageAlert } from '@meterline/schemas';
import { alertFromRecord } from '../alert.ts';
import type { NotifierMetrics } from '../metrics.ts';

export interface AlertBatchDeps {
  codec: ContractCodec<UsageAlert>;
  pool: Pool;
  store: DeliveryStore;
  team: TeamAccess;
  policy: RecipientPolicy;
  metrics: NotifierMetrics;
  log: Logger;
  /** Called once deliveries are recorded: the delivery worker need not wait for its next poll. */
  recorded: () => void;
}

/** The bytes themselves are bad (wrong magic byte, unknown schema, truncated Avro): no retry helps.
 * A registry that does not answer is retryable and thrown. */
function undecodable(err: unknown): boolean {
  const e = err as { name?: string; status?: number; message?: string };
  if (e.name === 'ConfluentSchemaRegistryArgumentError' || e.status === 404) return true;
  return err instanceof RangeError || /truncated|invalid|magic byte|unknown/i.test(e.message ?? '');
}

/** One fetched batch of usage.alerts.v1: decode, choose each alert's recipients, and record the
 * deliveries as pending in one transaction. Sending is the delivery worker's; the consumer commits
 * once the deliveries are recorded, so an SMTP outage never holds up the topic. */
export async function handleAlertBatch(deps: AlertBatchDeps, batch: Batch, ctx: BatchContext): Promise<void> {
  const alerts = [];
  for (const m of batch.messages) {
    if (!m.value) continue;
    try {
      alerts.push(alertFromRecord(await deps.codec.decode(m.value)));
    } catch (err) {
      if (!undecodable(err)) throw err;
      // usage.alerts.v1 has no DLQ in the contract: say loudly what was skipped and where.
      deps.metrics.alerts.inc({ outcome: 'undecodable' });
      deps.log.error({ err, partition: batch.partition, offset: m.offset }, 'undecodable alert skipped');
    }
  }
  if (alerts.length === 0 || !ctx.isCurrent()) return;

  const [audiences, staff] = await Promise.all([
    loadAudiences(
      deps.pool,
      alerts.map((a) => a.resourceId),
    ),
    deps.team.alertSubscribers(),
  ]);
  const received: ReceivedAlert[] = alerts.map((alert) => {
    const audience = audiences.get(alert.resourceId);
    if (!audience) return { alert, deliveries: [], note: 'unknown resource' };
    if (audience.state === 'deprovisioned') return { alert, deliveries: [], note: 'resource deprovisioned' };
    const recipients = chooseRecipients({
      severity: alert.severity,
      access: audience.access,
      contacts: audience.contacts,
      staff,
      policy: deps.policy,
    });
    const deliveries = recipients.map((r) => {
      const [delivery, check] = deliveryTo(r);
      if (!check.ok) {
        deps.log.warn(
          {
            alertId: alert.id,
            resourceId: alert.resourceId,
            recipient: r.email,
            name: r.name,
            reason: check.reason,
          },
          'recipient refused: not sent',
        );
      }
      return delivery;
    });
    return { alert, deliveries, note: deliveries.length === 0 ? 'nobody to tell' : null };
  });
  for (const r of received) {
    if (r.note)
      deps.log.warn(
        { alertId: r.alert.id, resourceId: r.alert.resourceId, note: r.note },
        'alert has no recipient',
      );
  }
  if (!ctx.isCurrent()) return;

  const outcome = await deps.store.record(received);
  deps.metrics.alerts.inc({ outcome: 'recorded' }, outcome.alerts);
  deps.metrics.alerts.inc({ outcome: 'redelivered' }, outcome.redelivered);
  deps.metrics.deliveries.inc({ outcome: 'recorded' }, outcome.pending);
  deps.metrics.deliveries.inc({ outcome: 'refused' }, outcome.refused);
  deps.log.info(
    { partition: batch.partition, offsets: [batch.firstOffset(), batch.lastOffset()], ...outcome },
    'alert batch recorded',
  );
  if (outcome.pending > 0) deps.recorded();
}
