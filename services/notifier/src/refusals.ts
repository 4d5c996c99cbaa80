import type { Pool } from '@meterline/db';
import { type DeliveryStore, deliveryTo } from '@meterline/deliveries';
import {
  checkAddress,
  refusalRecipients,
  renderAddonDisabledEmail,
  renderProvisionRefusalEmail,
} from '@meterline/notifications';
import {
  loadAudiences,
  type ProvisionRefusal,
  type RefusalCursor,
  type ResourceStore,
} from '@meterline/resources';
import { HOUR, MINUTE } from '@meterline/rules';
import type { Logger } from '@meterline/runtime';
import { type EmailSettings, messageIdFor, type PlanBook } from './compose.ts';

/** The record id (`notifier_alerts.alert_id`) of a resource's refusal (or disable) notice: one per
 * resource and kind, so each is told once, whichever notifier finds it first. */
export const refusalNoticeId = (resourceId: string, kind: ProvisionRefusal['kind'] = 'refused') =>
  `${kind === 'disabled' ? 'disabled' : 'provision-refused'}:${resourceId}`;

/** Refusals older than this when first seen are not emailed (a notifier started long after them, or
 * for the first time on an old install, does not tell customers about something long settled). */
const TELL_WITHIN_MS = 72 * HOUR;

/** The api stamps a refusal with its own clock before it commits: a refusal committed later may carry a
 * slightly earlier time. The cursor of what is told stays this far behind, so none is passed over. */
const COMMIT_SKEW_MS = MINUTE;

/** What one pass recorded: refusals (one notice each), and their deliveries pending and refused (a bad
 * address). */
export interface RefusalsRecorded {
  refusals: number;
  pending: number;
  refused: number;
}

/** What telling a refusal needs. */
export interface RefusalDeps {
  pool: Pool;
  store: DeliveryStore;
  resources: ResourceStore;
  plans: PlanBook;
  email: EmailSettings & { messageIdDomain: string };
  log: Logger;
}

/**
 * Tells the people of each asynchronously refused provision why (ADR 0003): Heroku had already answered
 * 202, and removing the add-on shows the customer no reason. Finds refusals the notifier has not recorded,
 * composes one email per recipient at once (nothing to coalesce), and records them as pending deliveries
 * of a notice in one transaction; the delivery worker sends them like alert emails (retries, give-up,
 * one resend at most after a crash: ADR 0005).
 */
export class RefusalNotices {
  /** Every refusal up to here is told (or too old to tell): the next pass starts after it. */
  private toldThrough: RefusalCursor | null = null;

  constructor(private readonly deps: RefusalDeps) {}

  /** One pass: records the notices of at most `limit` refusals not told yet. */
  async record(now: number, limit = 50): Promise<RefusalsRecorded> {
    const recorded: RefusalsRecorded = { refusals: 0, pending: 0, refused: 0 };
    const untold = await this.untold(now, limit);
    if (untold.length > 0) await tell(this.deps, untold, recorded);
    return recorded;
  }

  /** Walks the refusals since the cursor (at the latest, since the telling window's start) and keeps
   * those without a recorded notice; moves the cursor over the told ones that are older than the skew. */
  private async untold(now: number, limit: number): Promise<ProvisionRefusal[]> {
    const windowStart: RefusalCursor = { at: now - TELL_WITHIN_MS, eventId: '0' };
    let after = this.toldThrough && this.toldThrough.at > windowStart.at ? this.toldThrough : windowStart;
    let allToldSoFar = true;
    const untold: ProvisionRefusal[] = [];
    while (untold.length < limit) {
      const page = await this.deps.resources.refusalsAndDisables(after, limit);
      const told = await this.deps.store.recorded(page.map((r) => refusalNoticeId(r.resourceId, r.kind)));
      for (const r of page) {
        if (!told.has(refusalNoticeId(r.resourceId, r.kind))) {
          untold.push(r);
          allToldSoFar = false;
        } else if (allToldSoFar && r.at < now - COMMIT_SKEW_MS) {
          this.toldThrough = { at: r.at, eventId: r.eventId };
        }
      }
      if (page.length < limit) break;
      after = { at: page[page.length - 1]!.at, eventId: page[page.length - 1]!.eventId };
    }
    return untold.slice(0, limit);
  }
}

async function tell(deps: RefusalDeps, refusals: ProvisionRefusal[], recorded: RefusalsRecorded) {
  const { pool, store, plans, email, log } = deps;
  const audiences = await loadAudiences(
    pool,
    refusals.map((r) => r.resourceId),
  );
  for (const refusal of refusals) {
    const audience = audiences.get(refusal.resourceId);
    const recipients = refusalRecipients(audience?.access ?? [], audience?.contacts ?? []);
    const view = {
      addonName: audience?.addonName ?? `meterline-${refusal.resourceId.slice(0, 8)}`,
      appName: audience?.appName ?? null,
      planDisplayName: plans.plan(refusal.plan)?.displayName ?? refusal.plan,
      reason: refusal.reason,
      providerName: email.providerName,
      ...(email.supportContact ? { supportContact: email.supportContact } : {}),
    };
    const rendered =
      refusal.kind === 'disabled'
        ? renderAddonDisabledEmail({ ...view, disabledAt: refusal.at })
        : renderProvisionRefusalEmail({ ...view, refusedAt: refusal.at });
    const noticeId = refusalNoticeId(refusal.resourceId, refusal.kind);
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
          kind: refusal.kind === 'disabled' ? 'ADDON_DISABLED' : 'PROVISION_REFUSED',
          resourceId: refusal.resourceId,
          plan: refusal.plan,
          reason: refusal.reason,
          refusedAt: refusal.at,
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
}
