import { createHash } from 'node:crypto';
import type { Pool } from '@meterline/db';
import { checkAddress, refusalRecipients, renderProvisionRefusalEmail } from '@meterline/notifications';
import { loadAudiences } from './audience.ts';
import type { EmailSettings, PlanBook } from './compose.ts';
import { DeliveryStore, type NewDelivery } from './store.ts';

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
export async function recordProvisionRefusals(
  pool: Pool,
  plans: PlanBook,
  email: EmailSettings & { messageIdDomain: string },
  now: number,
  limit = 50,
): Promise<RefusalsRecorded> {
  const recorded: RefusalsRecorded = { refusals: 0, pending: 0, refused: 0 };
  const store = new DeliveryStore(pool);
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
    // The To header of each address that may be used; a refused one is recorded failed with why.
    const toHeaders = new Map<string, string>();
    const deliveries: NewDelivery[] = recipients.map((r) => {
      const to = checkAddress(r.email, r.name);
      const recipient = r.email.toLowerCase();
      if (to.ok) toHeaders.set(recipient, to.address);
      return {
        recipient,
        name: r.name ?? null,
        reason: r.reason,
        refused: to.ok ? null : `refused: ${to.reason}`,
      };
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
      (d) => ({
        resourceId: refusal.resourceId,
        recipient: d.recipient,
        toHeader: toHeaders.get(d.recipient)!,
        messageId: noticeMessageId(d.recipient, noticeId, email.messageIdDomain),
        ...rendered,
      }),
    );
    if (told) {
      recorded.refusals++;
      recorded.pending += told.pending;
      recorded.refused += told.refused;
    }
  }
  return recorded;
}

/** The same recipient and notice always give the same Message-ID (the one possible resend after a crash
 * is recognisably the same message, ADR 0005). */
function noticeMessageId(recipient: string, noticeId: string, domain: string): string {
  const hash = createHash('sha256').update(`${recipient}\n${noticeId}`).digest('hex').slice(0, 32);
  return `<notice.${hash}@${domain}>`;
}
