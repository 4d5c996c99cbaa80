import type { Pool } from '@meterline/db';
import type { ComposableDelivery, DeliveryStore, StoredEmail } from '@meterline/deliveries';
import { checkAddress, coalesce } from '@meterline/notifications';
import { loadAudiences, type ResourceStore } from '@meterline/resources';
import { backoffMs, type Logger } from '@meterline/runtime';
import { type EmailSettings, messageIdFor, type PlanBook, renderGroup } from './compose.ts';
import { classifySmtpError, type Mailer } from './mailer.ts';
import type { NotifierMetrics } from './metrics.ts';
import { RefusalNotices } from './refusals.ts';

export interface DeliveryWorkerDeps {
  pool: Pool;
  store: DeliveryStore;
  resources: ResourceStore;
  mailer: Mailer;
  plans: PlanBook;
  email: EmailSettings & { from: string; messageIdDomain: string };
  concurrency: number;
  pollIntervalMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  giveUpMs: number;
  metrics: NotifierMetrics;
  log: Logger;
}

/**
 * Sends what the consumer recorded. Each round records the refused asynchronous provisions not yet told
 * (refusals.ts: their emails are composed at once), composes the deliveries that are due (coalescing the
 * pending tiers of one resource and recipient into one email, ADR 0005), then sends due emails, each
 * under a row lock held until its outcome is committed. Every email has its own retry clock, so one
 * bad recipient or an SMTP outage holds up nobody else's next attempt.
 */
export class DeliveryWorker {
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;

  private readonly refusals: RefusalNotices;

  constructor(private readonly deps: DeliveryWorkerDeps) {
    this.refusals = new RefusalNotices(deps);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New deliveries were recorded: look now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops after the round in hand: emails being sent finish and their outcome is recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let busy = false;
      try {
        busy = await this.round();
        failures = 0;
      } catch (err) {
        // Postgres unreachable: nothing was lost, the deliveries wait in their table.
        const wait = backoffMs(failures++, 500, 15_000);
        this.deps.log.warn({ err, retryInMs: wait }, 'delivery round failed');
        await this.idle(wait);
        continue;
      }
      if (!busy) await this.idle(this.deps.pollIntervalMs);
    }
  }

  private idle(ms: number): Promise<void> {
    if (this.woken || !this.running) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        self.wakeUp = null;
        self.woken = false;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /** One round; true when it found work (so the next round starts at once). */
  async round(): Promise<boolean> {
    const told = await this.refusals.record(Date.now());
    if (told.refusals > 0) {
      this.deps.metrics.refusals.inc(told.refusals);
      this.deps.metrics.deliveries.inc({ outcome: 'recorded' }, told.pending);
      this.deps.metrics.deliveries.inc({ outcome: 'refused' }, told.refused);
      this.deps.log.info(told, 'refused provisions recorded: their people are told why');
    }
    const composed = await this.deps.store.compose(500, (client, due) => this.composeEmails(client, due));
    const sent = await this.sendDue();
    this.deps.metrics.pending.set(await this.deps.store.countIn('pending'));
    return told.refusals > 0 || composed > 0 || sent > 0;
  }

  private async composeEmails(
    client: Parameters<DeliveryStore['attachEmail']>[0],
    due: ComposableDelivery[],
  ): Promise<void> {
    const { store, plans, email, log } = this.deps;
    const audiences = await loadAudiences(
      this.deps.pool,
      due.map((d) => d.resourceId),
    );
    const byRecipient = new Map<string, ComposableDelivery[]>();
    for (const d of due) byRecipient.set(d.recipient, [...(byRecipient.get(d.recipient) ?? []), d]);
    const now = Date.now();
    for (const [recipient, deliveries] of byRecipient) {
      const byAlert = new Map(deliveries.map((d) => [d.alert.id, d]));
      for (const group of coalesce(deliveries.map((d) => d.alert))) {
        const ids = group.map((a) => byAlert.get(a.id)!.id);
        const name = deliveries.find((d) => d.name)?.name ?? undefined;
        const to = checkAddress(recipient, name);
        try {
          if (!to.ok) throw new Error(`refused: ${to.reason}`);
          const rendered = renderGroup(group, audiences.get(group[0]!.resourceId), plans, email, now);
          await store.attachEmail(client, {
            resourceId: group[0]!.resourceId,
            recipient,
            toHeader: to.address,
            messageId: messageIdFor(
              recipient,
              group.map((a) => a.id),
              email.messageIdDomain,
            ),
            ...rendered,
            deliveryIds: ids,
          });
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          log.error(
            { recipient, alertIds: group.map((a) => a.id), reason },
            'email cannot be composed: deliveries failed',
          );
          await store.failUncomposed(
            client,
            ids,
            reason.startsWith('refused') ? reason : `cannot compose: ${reason}`,
          );
          this.deps.metrics.deliveries.inc({ outcome: 'failed' }, ids.length);
        }
      }
    }
  }

  private async sendDue(): Promise<number> {
    const ids = await this.deps.store.dueEmails(this.deps.concurrency * 4);
    let next = 0;
    let handled = 0;
    const lane = async () => {
      while (this.running && next < ids.length) {
        const id = ids[next++]!;
        if (await this.deps.store.withEmail(id, (client, e) => this.sendOne(client, e))) handled++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.concurrency, ids.length) }, lane));
    return handled;
  }

  private async sendOne(client: Parameters<DeliveryStore['markSent']>[0], e: StoredEmail): Promise<void> {
    const { store, mailer, metrics, log } = this.deps;
    const started = process.hrtime.bigint();
    try {
      const receipt = await mailer.send({
        from: this.deps.email.from,
        to: e.toHeader,
        messageId: e.messageId,
        subject: e.subject,
        text: e.text,
        html: e.html,
        headers: {
          'X-Meterline-Alert-Id': e.alertIds.join(', '),
          'X-Meterline-Resource-Id': e.resourceId,
          'X-Meterline-Email-Id': e.id,
          'Auto-Submitted': 'auto-generated',
        },
      });
      metrics.sendSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      await store.markSent(client, e.id, receipt.messageId, receipt.response);
      metrics.emails.inc({ outcome: 'sent' });
      metrics.deliveries.inc({ outcome: 'sent' }, e.alertIds.length);
      log.info(
        { emailId: e.id, resourceId: e.resourceId, alertIds: e.alertIds, attempt: e.attempts + 1 },
        'email sent',
      );
    } catch (err) {
      const failure = classifySmtpError(err);
      const age = Date.now() - e.firstRecordedAt.getTime();
      if (failure.permanent || age > this.deps.giveUpMs) {
        const reason = failure.permanent
          ? failure.message
          : `gave up after ${e.attempts + 1} attempts over ${Math.round(age / 60_000)} minutes: ${failure.message}`;
        await store.markFailed(client, e.id, reason, failure.response);
        metrics.emails.inc({ outcome: 'failed' });
        metrics.deliveries.inc({ outcome: 'failed' }, e.alertIds.length);
        log.warn(
          { emailId: e.id, resourceId: e.resourceId, alertIds: e.alertIds, reason },
          'email failed for good',
        );
        return;
      }
      const wait = backoffMs(e.attempts, this.deps.retryBaseMs, this.deps.retryMaxMs);
      await store.markRetry(client, e.id, failure.message, wait);
      metrics.emails.inc({ outcome: 'retry' });
      log.warn(
        {
          emailId: e.id,
          resourceId: e.resourceId,
          attempt: e.attempts + 1,
          retryInMs: wait,
          error: failure.message,
        },
        'email not accepted; will retry',
      );
    }
  }
}
