import { createHash } from 'node:crypto';
import { inTransaction, type Pool } from '@meterline/db';
import { checkAddress, refusalRecipients, renderProvisionRefusalEmail } from '@meterline/notifications';
import { loadAudiences } from './audience.ts';
import type { EmailSettings, PlanBook } from './compose.ts';

/** The record id (`notifier_alerts.alert_id`) of a resource's refusal notice: one per resource, so a
 * refusal is told once, whichever notifier finds it first. */
export const refusalNoticeId = (resourceId: string) => `${NOTICE_PREFIX}${resourceId}`;
const NOTICE_PREFIX = 'provision-refused:';

/** Refusals older than this when first seen are not emailed (a notifier started long after them, or
 * for the first time on an old install, does not tell customers about something long settled). */
const TELL_WITHIN_HOURS = 72;

/** What one pass recorded: refusals (one notice each), and their deliveries pending and refused (a bad
 * address). */
export interface RefusalsRecorded {
  refusals: number;
  pending: number;
  refused: number;
}

/** A refused asynchronous provision, as the api recorded it (`resource_events`), not yet told. */
interface Refusal {
  resourceId: string;
  plan: string;
  reason: string;
  at: Date;
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
  const { rows } = await pool.query(
    `SELECT e.resource_id::text AS resource_id, coalesce(e.to_plan, r.plan) AS plan,
            e.detail->>'message' AS reason, e.at
     FROM resource_events e JOIN resources r ON r.id = e.resource_id
     WHERE e.kind = 'provision_refused' AND e.detail->>'mode' = 'async'
       AND e.at > $1::timestamptz - make_interval(hours => $2)
       AND NOT EXISTS (SELECT 1 FROM notifier_alerts a WHERE a.alert_id = $4 || e.resource_id::text)
     ORDER BY e.at LIMIT $3`,
    [new Date(now), TELL_WITHIN_HOURS, limit, NOTICE_PREFIX],
  );
  const refusals: Refusal[] = rows.map((r) => ({
    resourceId: r.resource_id,
    plan: r.plan,
    reason: r.reason ?? 'The provision request was refused.',
    at: r.at,
  }));
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
    const told = await inTransaction(pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO notifier_alerts (alert_id, resource_id, alert, note) VALUES ($1, $2, $3, $4)
         ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id`,
        [
          noticeId,
          refusal.resourceId,
          JSON.stringify({
            kind: 'PROVISION_REFUSED',
            resourceId: refusal.resourceId,
            plan: refusal.plan,
            reason: refusal.reason,
            refusedAt: refusal.at.getTime(),
          }),
          recipients.length === 0
            ? 'nobody to tell: the app has no access list and the resource no contact'
            : null,
        ],
      );
      // Another notifier recorded it first.
      if (inserted.rowCount === 0) return null;
      const counts = { pending: 0, refused: 0 };
      for (const r of recipients) {
        const to = checkAddress(r.email, r.name);
        const recipient = r.email.toLowerCase();
        let emailId: string | null = null;
        if (to.ok) {
          const stored = await client.query(
            `INSERT INTO emails (resource_id, recipient, to_header, message_id, subject, text_body, html_body)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
            [
              refusal.resourceId,
              recipient,
              to.address,
              noticeMessageId(recipient, noticeId, email.messageIdDomain),
              rendered.subject,
              rendered.text,
              rendered.html,
            ],
          );
          emailId = stored.rows[0].id;
        }
        await client.query(
          `INSERT INTO deliveries (alert_id, resource_id, recipient, recipient_name, reason, state, email_id, last_error, failed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $6 = 'failed' THEN now() END)
           ON CONFLICT (alert_id, recipient) DO NOTHING`,
          [
            noticeId,
            refusal.resourceId,
            recipient,
            r.name ?? null,
            r.reason,
            to.ok ? 'pending' : 'failed',
            emailId,
            to.ok ? null : `refused: ${to.reason}`,
          ],
        );
        if (to.ok) counts.pending++;
        else counts.refused++;
      }
      return counts;
    });
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
