import type { AlertKind, Severity as AlertSeverity, UsageAlert } from '@meterline/schemas';

export type { AlertKind, AlertSeverity };
export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['INFO', 'WARNING', 'CRITICAL'];

/** An email is written from the UsageAlert record itself (schemas/usage-alert.avsc). */
export type AlertForEmail = UsageAlert;

/** What the notifier knows about the resource, its plan and one metric, beyond the alert itself. */
export interface EmailContext {
  /** How the plan is named to customers: "basic" reads "your basic plan's". */
  planDisplayName: string;
  /** Plural noun phrase: "API calls", "storage". */
  metricLabel: string;
  /** Appended to quantities ("90,300 API calls", "9.5 GB"); empty for a bare number. */
  metricUnit: string;
  /** The plan's overLimit text: what happens if the customer does not upgrade. */
  overLimit: string;
  /** The next plan up and its limit for this metric; null on the largest plan. */
  nextPlan: { name: string; displayName: string; limit: number } | null;
  addonName: string;
  appName: string | null;
  dashboardUrl: string;
  /** "Meterline" unless the provider says otherwise. */
  providerName: string;
  /** Where to contact support (an email address or URL); optional. */
  supportContact?: string;
  /** When the email is rendered: days left count from here, not from when the alert occurred. */
  now: number;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}
