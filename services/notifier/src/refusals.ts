import type { Pool } from '@meterline/db';
import { checkAddress, refusalRecipients, renderProvisionRefusalEmail } from '@meterline/notifications';
import type { Logger } from '@meterline/runtime';
import { loadAudiences } from './audience.ts';
import { type EmailSettings, messageIdFor, type PlanBook } from './compose.ts';
import { type DeliveryStore, deliveryTo } from './store.ts';

const NOTICE_PREFIX = 'provision-refused:';

/** The record id (`notifier_alerts.alert_id`) of a resource's refusal notice: one per resource, so a
 * refusal is told once, whichever notifier finds it first. */
export const refusalNoticeId = (resourceId: string) => `${NOTICE_PREFIX}${resourceId}`;

/** Refusals older than this when first seen are not emailed (a notifier started long after them, or
 * for the first time on an old install, does not tell customers about something long settled). */
const TELL_WITHIN_MS = 72 * 3_600_000;

/** What one pass recorded: refusals (one notice each), and their deliveries pending and refused (a bad
 * address). */
export interface RefusalsRecorded {
  refusals: number;
  pending: number;
  refused: number;
}

/**
 * Tells the people of each asynchronously refused provision why (ADR 0003): Heroku had already answered
 * 202, and removing the add-on shows the customer no reason. Finds refusals the notifier has not recorded,
 * composes one email per recipient at once (nothing to coalesce), and records them as pending deliveries
 * of a notice in one transaction; the delivery worker sends them like alert emails (retries, give-up,
 * one resend at most after a crash: ADR 0005).
 */
export interface RefusalDeps {
  pool: Pool;
  store: DeliveryStore;
  plans: PlanBook;
  email: EmailSettings & { messageIdDomain: string };
  log: Logger;
}

export async function recordProvisionRefusals(
  deps: RefusalDeps,
  now: number,
  limit = 50,
): Promise<RefusalsRecorded> {
  const { pool, store, plans, email, log } = deps;
  const recorded: RefusalsRecorded = { refusals: 0, pending: 0, refused: 0 };
  const refusals = await store.untoldRefusals(new Date(now - TELL_WITHIN_MS), NOTICE_PREFIX, limit);
  if (refusals.length === 0) return recorded;
  const audiences = await loadAudiences(
    pool,
    refusals.map((r) => r.resourceId),
  );
  for (const refusal of refusals) {
    const audience = audiences.get(refusal.resourceId);
    const recipients = refusalRecipients(audience?.access ?? [], audience?.contacts ?? []);
    const rendered = renderProvisionRefusalEmail({
      addonName: audience?.addonName ?? `meterline-${refusal.resourceId.slice(0, 8)}`,
      appName: audience?.appName ?? null,
      planDisplayName: plans.plan(refusal.plan)?.displayName ?? refusal.plan,
      reason: refusal.reason,
      refusedAt: refusal.at.getTime(),
      providerName: email.providerName,
      ...(email.supportContact ? { supportContact: email.supportContact } : {}),
    });
    const noticeId = refusalNoticeId(refusal.resourceId);
    const deliveries = recipients.map((r) => {
      const [delivery, check] = deliveryTo(r);
      if (!check.ok)
        log.warn(
          {
            noticeId,
            resourceId: refusal.resourceId,
            recipient: r.email,
            name: r.name,
            reason: check.reason,
          },
          'recipient refused: not sent',
        );
      return delivery;
    });
    const told = await store.recordNotice(
      {
        id: noticeId,
        resourceId: refusal.resourceId,
        body: {
          kind: 'PROVISION_REFUSED',
          resourceId: refusal.resourceId,
          plan: refusal.plan,
          reason: refusal.reason,
          refusedAt: refusal.at.getTime(),
        },
        note:
          recipients.length === 0
            ? 'nobody to tell: the app has no access list and the resource no contact'
            : null,
      },
      deliveries,
      (d) => {
        // As the alert emails' composition does: the address passed its check when the delivery was made.
        const to = checkAddress(d.recipient, d.name ?? undefined);
        if (!to.ok) throw new Error(`refused: ${to.reason}`);
        return {
          resourceId: refusal.resourceId,
          recipient: d.recipient,
          toHeader: to.address,
          messageId: messageIdFor(d.recipient, [noticeId], email.messageIdDomain),
          ...rendered,
        };
      },
    );
    if (told) {
      recorded.refusals++;
      recorded.pending += told.pending;
      recorded.refused += told.refused;
    }
  }
  return recorded;
}
