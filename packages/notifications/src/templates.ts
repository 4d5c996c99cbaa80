/**
 * Every customer-facing word of an alert email lives here: one template per kind and severity, and
 * the sections all of them share (usage, what happens if you do not upgrade, how to upgrade, the
 * dashboard). layout.ts turns the resulting document into plain text and HTML.
 */
import type { AlertForEmail, AlertKind, AlertSeverity, EmailContext } from './alert.ts';
import {
  formatDate,
  formatDay,
  formatNumber,
  formatPercent,
  formatQuantity,
  monthName,
  plural,
} from './format.ts';
import type { Block, EmailDocument } from './layout.ts';

/** One alert with the context it is told in. */
export interface AlertFacts {
  alert: AlertForEmail;
  ctx: EmailContext;
  /** Days of the period used when the alert occurred: "in the first 5 days". */
  elapsedDays: number;
}

/** One metric's part of the email: its alerts in tier order and where its usage stands now. */
export interface MetricSection {
  tiers: AlertFacts[];
  /** The most recent alert of the metric: its numbers are the current usage. */
  latest: AlertForEmail;
  ctx: EmailContext;
  /** When the limit is reached at the pace so far, if within the period. */
  limitReachedAt: number | null;
}

export interface AlertEmailView {
  headline: AlertFacts;
  sections: MetricSection[];
  daysLeft: number;
  periodEnd: number;
  ctx: EmailContext;
}

interface AlertTemplate {
  badge: string;
  accent: string;
  subject(f: AlertFacts): string;
  /** The first line of the body: what happened, in a sentence or two. */
  lead(f: AlertFacts): string;
  /** What the severity asks of the customer. */
  advice(f: AlertFacts): string;
}

const plan = (f: AlertFacts) => `your ${f.ctx.planDisplayName} plan's`;
const month = (f: AlertFacts) => monthName(f.alert.periodStart);
const atLimit = (f: AlertFacts) => f.alert.used >= f.alert.limit;

function thresholdSubject(f: AlertFacts): string {
  return `You have used ${f.alert.threshold}% of ${plan(f)} ${f.ctx.metricLabel} for ${month(f)}`;
}

function thresholdLead(f: AlertFacts): string {
  const { used, limit } = f.alert;
  if (used > limit) {
    return `${thresholdSubject(f)}. Your usage is over the plan's limit by ${formatQuantity(used - limit, f.ctx.metricUnit)}.`;
  }
  if (used === limit) return `${thresholdSubject(f)}. Your usage has reached the plan's limit.`;
  return `${thresholdSubject(f)}.`;
}

/** "API calls are", "storage is". */
function runs(label: string): string {
  return `${label} ${/s$/i.test(label) ? 'are' : 'is'}`;
}

function paceSubject(f: AlertFacts): string {
  return `Your ${runs(f.ctx.metricLabel)} running ahead of ${plan(f)} pace for ${month(f)}`;
}

function paceFact(f: AlertFacts): string {
  return `${formatPercent(f.alert.percent)} of the month's allowance used in the first ${plural(f.elapsedDays, 'day')}`;
}

function paceLead(f: AlertFacts): string {
  return `${paceSubject(f)}: ${paceFact(f)}.`;
}

const INFO = { badge: 'Notice', accent: '#2563eb' };
const WARNING = { badge: 'Warning', accent: '#b45309' };
const CRITICAL = { badge: 'Action needed', accent: '#dc2626' };

const TEMPLATES: Record<`${AlertKind}_${AlertSeverity}`, AlertTemplate> = {
  THRESHOLD_INFO: {
    ...INFO,
    subject: thresholdSubject,
    lead: thresholdLead,
    advice: (f) =>
      atLimit(f)
        ? 'We tell you at every tier, so that nothing comes as a surprise. Below is what happens now, and how to upgrade.'
        : 'This is an early notice, so that nothing later comes as a surprise: nothing changes for your app yet.',
  },
  THRESHOLD_WARNING: {
    ...WARNING,
    subject: thresholdSubject,
    lead: thresholdLead,
    advice: (f) =>
      atLimit(f)
        ? 'Please upgrade or reduce your usage: the limit is reached, and what is described below applies.'
        : 'Your usage is getting close to the limit. Please review it, and upgrade before the limit is reached if you need more.',
  },
  THRESHOLD_CRITICAL: {
    ...CRITICAL,
    subject: thresholdSubject,
    lead: thresholdLead,
    advice: (f) =>
      atLimit(f)
        ? 'Action is needed now: the limit is reached, and what is described below applies until you upgrade.'
        : 'Action is needed now: your usage is about to reach the limit.',
  },
  PACE_INFO: {
    ...INFO,
    subject: paceSubject,
    lead: paceLead,
    advice: () =>
      'This is an early notice: nothing changes for your app yet, but if usage keeps this pace it will go over the limit before the month ends.',
  },
  PACE_WARNING: {
    ...WARNING,
    subject: paceSubject,
    lead: paceLead,
    advice: () =>
      'Please review your usage: if it keeps this pace, it will go over the limit before the month ends.',
  },
  PACE_CRITICAL: {
    ...CRITICAL,
    subject: paceSubject,
    lead: paceLead,
    advice: () =>
      'Action is needed: at this pace your usage will go over the limit well before the month ends.',
  },
};

function templateFor(alert: AlertForEmail): AlertTemplate {
  return TEMPLATES[`${alert.kind}_${alert.severity}`];
}

/** One line per alert in the email, with the numbers at the moment it occurred. */
function tierLine(f: AlertFacts): string {
  const { alert, ctx } = f;
  const badge = templateFor(alert).badge.toLowerCase();
  if (alert.kind === 'PACE') return `Pace: ${paceFact(f)} (${badge})`;
  return `${alert.threshold}% tier: ${formatNumber(alert.used)} of ${formatQuantity(alert.limit, ctx.metricUnit)} used (${formatPercent(alert.percent)}, ${badge})`;
}

function usageSection(s: MetricSection, view: AlertEmailView, sectionCount: number): Block[] {
  const { latest, ctx } = s;
  const blocks: Block[] = [
    {
      kind: 'heading',
      text: `${ctx.metricLabel} on the ${ctx.planDisplayName} plan, ${monthName(latest.periodStart)} ${new Date(latest.periodStart).getUTCFullYear()}`,
    },
    {
      kind: 'usageBar',
      percent: latest.percent,
      label: `${formatPercent(latest.percent)} of the month's allowance`,
    },
  ];
  const rows: [string, string][] = [
    [
      'Used',
      `${formatNumber(latest.used)} of ${formatQuantity(latest.limit, ctx.metricUnit)} (${formatPercent(latest.percent)})`,
    ],
    [
      'Days left',
      view.daysLeft === 0
        ? `none: the period ended on ${formatDate(view.periodEnd)}`
        : `${view.daysLeft} (the period ends on ${formatDate(view.periodEnd)} at 00:00 UTC)`,
    ],
  ];
  const aheadOfPace =
    latest.projected !== null &&
    (latest.projected > latest.limit || s.tiers.some((t) => t.alert.kind === 'PACE'));
  if (aheadOfPace && latest.projected !== null) {
    rows.push([
      'Projected',
      `about ${formatQuantity(latest.projected, ctx.metricUnit)} by the end of ${monthName(latest.periodStart)} (${formatPercent((latest.projected / latest.limit) * 100)} of the limit)`,
    ]);
  }
  if (s.limitReachedAt !== null) {
    rows.push(['Limit reached', `around ${formatDay(s.limitReachedAt)} at the pace so far`]);
  }
  blocks.push({ kind: 'facts', rows });
  // A single alert is already told by the first line; several (or another metric's) are listed.
  if (s.tiers.length > 1 || sectionCount > 1) {
    blocks.push({ kind: 'list', title: 'Alerts in this email:', items: s.tiers.map(tierLine) });
  }
  return blocks;
}

/** "1,000,000 API calls", "50 GB of storage". */
function allowance(limit: number, ctx: EmailContext): string {
  const { metricUnit: unit, metricLabel: label } = ctx;
  if (unit === '' || unit.toLowerCase() === label.toLowerCase()) return `${formatNumber(limit)} ${label}`;
  return `${formatQuantity(limit, unit)} of ${label}`;
}

/** Upgrade and contact support by name; the command only if every name in it is a plain slug. */
const SLUG = /^[a-z0-9][a-z0-9._-]*$/i;

function upgradeCommand(ctx: EmailContext, nextPlan: string): string | null {
  if (
    !SLUG.test(ctx.addonName) ||
    !SLUG.test(nextPlan) ||
    (ctx.appName !== null && !SLUG.test(ctx.appName))
  ) {
    return null;
  }
  const app = ctx.appName === null ? '' : ` --app ${ctx.appName}`;
  return `heroku addons:upgrade ${ctx.addonName}:${nextPlan}${app}`;
}

function upgradeSection(view: AlertEmailView): Block[] {
  const blocks: Block[] = [{ kind: 'heading', text: 'How to upgrade' }];
  const byPlan = new Map<string, MetricSection[]>();
  const largest: MetricSection[] = [];
  for (const s of view.sections) {
    if (s.ctx.nextPlan === null) largest.push(s);
    else byPlan.set(s.ctx.nextPlan.name, [...(byPlan.get(s.ctx.nextPlan.name) ?? []), s]);
  }
  for (const [name, sections] of byPlan) {
    const next = sections[0]!.ctx.nextPlan!;
    const limits = sections.map((s) => allowance(s.ctx.nextPlan!.limit, s.ctx)).join(' and ');
    const command = upgradeCommand(view.ctx, name);
    blocks.push({
      kind: 'paragraph',
      text: `The ${next.displayName} plan includes ${limits} a month. ${command ? 'Upgrade with the Heroku CLI:' : `Upgrade ${view.ctx.addonName} to ${next.displayName} from your Heroku dashboard.`}`,
    });
    if (command) blocks.push({ kind: 'command', text: command });
  }
  if (largest.length > 0) {
    const labels = largest.map((s) => s.ctx.metricLabel).join(' and ');
    const where = view.ctx.supportContact ? ` at ${view.ctx.supportContact}` : '';
    blocks.push({
      kind: 'paragraph',
      text: `You are already on the largest plan for ${labels}. To raise your limit, contact ${view.ctx.providerName} support${where}.`,
    });
  }
  return blocks;
}

function overLimitSection(view: AlertEmailView): Block[] {
  const texts = new Map<string, string[]>();
  for (const s of view.sections) {
    texts.set(s.ctx.overLimit, [...(texts.get(s.ctx.overLimit) ?? []), s.ctx.metricLabel]);
  }
  const blocks: Block[] = [{ kind: 'heading', text: 'If you do not upgrade' }];
  for (const [text, labels] of texts) {
    blocks.push({ kind: 'paragraph', text: texts.size > 1 ? `${labels.join(' and ')}: ${text}` : text });
  }
  return blocks;
}

export function alertEmailDocument(view: AlertEmailView): EmailDocument {
  const template = templateFor(view.headline.alert);
  const { ctx } = view;
  const where = ctx.appName === null ? ctx.addonName : `${ctx.addonName} on ${ctx.appName}`;
  return {
    subject: template.subject(view.headline),
    badge: template.badge,
    accent: template.accent,
    blocks: [
      { kind: 'lead', text: template.lead(view.headline) },
      { kind: 'paragraph', text: template.advice(view.headline) },
      ...view.sections.flatMap((s) => usageSection(s, view, view.sections.length)),
      ...overLimitSection(view),
      ...upgradeSection(view),
      { kind: 'button', label: 'See your usage in the dashboard', href: ctx.dashboardUrl },
    ],
    footer: `${ctx.providerName} usage alert for ${where}. We email you at every tier so that nothing comes as a surprise.`,
  };
}
