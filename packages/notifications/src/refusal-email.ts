import type { RenderedEmail } from './alert.ts';
import { formatDate } from './format.ts';
import { type EmailDocument, renderHtml, renderText } from './layout.ts';
import type { AccessEntry, Person, Recipient } from './recipients.ts';

/** A provision that was accepted for a later decision (Heroku's asynchronous provisioning: 202) and
 * then refused, as the customer's email tells it. */
export interface ProvisionRefusalView {
  addonName: string;
  appName: string | null;
  planDisplayName: string;
  /** The refusal's message: why, and what to do (`decideProvision`'s words, as the api recorded them). */
  reason: string;
  refusedAt: number;
  providerName: string;
  /** Where to contact support (an email address or URL); optional. */
  supportContact?: string;
}

/** What a notice about one add-on says: a lead, the reason in the provider's words, the facts, and
 * what happens next. The refusal and the disable emails differ only in these. */
interface Notice {
  view: { addonName: string; appName: string | null; planDisplayName: string; reason: string };
  providerName: string;
  supportContact: string | undefined;
  /** e.g. 'was not set up', after "Your <plan> add-on for <app>" */
  outcome: string;
  badge: string;
  accent: string;
  lead: string;
  when: [label: string, at: number];
  consequence: string;
}

function renderNoticeEmail(notice: Notice): RenderedEmail {
  const { view, providerName, supportContact } = notice;
  const where = view.appName === null ? view.addonName : `${view.addonName} on ${view.appName}`;
  const forApp = view.appName === null ? '' : ` for ${view.appName}`;
  const doc: EmailDocument = {
    subject: `Your ${view.planDisplayName} add-on${forApp} ${notice.outcome}`,
    badge: notice.badge,
    accent: notice.accent,
    blocks: [
      { kind: 'lead', text: notice.lead },
      { kind: 'paragraph', text: view.reason },
      {
        kind: 'facts',
        rows: [
          ['Add-on', where],
          ['Plan', view.planDisplayName],
          [notice.when[0], formatDate(notice.when[1])],
        ],
      },
      { kind: 'paragraph', text: notice.consequence },
      ...(supportContact
        ? [
            {
              kind: 'paragraph' as const,
              text: `If you think this is a mistake, contact ${supportContact} and quote the add-on's name.`,
            },
          ]
        : []),
    ],
    footer: `${providerName} add-on notice for ${where}. You receive it as an owner or admin of the app, or as a contact of the add-on.`,
  };
  return { subject: doc.subject, text: renderText(doc), html: renderHtml(doc) };
}

/** The email that tells the app's people why the add-on they asked for was not set up. Heroku answered
 * the provision request before the decision and shows no reason when the add-on is then removed
 * (ADR 0003): this email is the only place the customer learns it. */
export function renderProvisionRefusalEmail(view: ProvisionRefusalView): RenderedEmail {
  const forApp = view.appName === null ? '' : ` for ${view.appName}`;
  return renderNoticeEmail({
    ...{ view, providerName: view.providerName, supportContact: view.supportContact },
    outcome: 'was not set up',
    badge: 'Not set up',
    accent: '#b45309',
    lead: `We could not set up the ${view.planDisplayName} plan of ${view.providerName}${forApp}.`,
    when: ['Decided', view.refusedAt],
    consequence: 'Heroku removes the add-on from your app, and you are not charged for it.',
  });
}

/** An add-on the provider disabled (deprovisioned through the Platform API) for its usage, as the
 * customer's email tells it. */
export interface AddonDisabledView {
  addonName: string;
  appName: string | null;
  planDisplayName: string;
  /** The provider's reason, in their words. */
  reason: string;
  disabledAt: number;
  providerName: string;
  supportContact?: string;
}

/** The email that tells the app's people that the provider removed their add-on, and why: Heroku's
 * dashboard only shows it gone (ADR 0016). */
export function renderAddonDisabledEmail(view: AddonDisabledView): RenderedEmail {
  const ofApp = view.appName === null ? '' : ` of ${view.appName}`;
  return renderNoticeEmail({
    ...{ view, providerName: view.providerName, supportContact: view.supportContact },
    outcome: 'was disabled',
    badge: 'Disabled',
    accent: '#a1381c',
    lead: `${view.providerName} disabled the ${view.planDisplayName} add-on${ofApp} because of how it was used.`,
    when: ['Disabled', view.disabledAt],
    consequence: 'The add-on is removed from your app and billing for it stops.',
  });
}

/** Who is told of a refused provision: the app's owner and admins, and the contacts the provider added
 * to the resource; when the app has neither owner nor admin on its access list, everyone on it. One
 * entry per address (case-insensitive), the first reason kept. */
export function refusalRecipients(access: readonly AccessEntry[], contacts: readonly Person[]): Recipient[] {
  const chosen = new Map<string, Recipient>();
  const add = (person: Person, reason: string) => {
    const email = person.email.trim();
    const key = email.toLowerCase();
    if (key === '' || chosen.has(key)) return;
    chosen.set(key, person.name ? { email, name: person.name, reason } : { email, reason });
  };
  const managers = access.filter((a) => a.role === 'owner' || a.role === 'admin');
  for (const entry of managers.length > 0 ? managers : access) add(entry, `${entry.role} of the app`);
  for (const contact of contacts) add(contact, 'contact of the resource');
  return [...chosen.values()];
}
