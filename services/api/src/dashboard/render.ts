/** The customer's dashboard, rendered on the server: plain HTML and CSS, no script needed, and no style
 * attribute (the Content-Security-Policy allows only the stylesheet below, by its hash). */

import type { ClientAssignment } from '@meterline/access';
import type { StoredAlert } from '@meterline/alerts';
import { escapeHtml } from '@meterline/notifications';
import type { AccessListState } from '@meterline/resources';
import { formatDate, formatQuantity, monthName } from '@meterline/rules';
import type { UsageReport } from '../usage-report.ts';

/** What the dashboard lists of the emails sent (the notifier's NotificationRecord, narrowed). */
interface EmailRow {
  recipient: string;
  subject: string | null;
  state: string;
  recordedAt: Date;
  sentAt: Date | null;
}

export interface DashboardView {
  report: UsageReport;
  resourceName: string | null;
  appName: string | null;
  /** An email not verified (the legacy sha1 SSO token does not cover it) is never shown: whoever sent the
   * form chose it. */
  viewer: { email: string; verified: boolean };
  alerts: StoredAlert[];
  emails: EmailRow[];
  access: AccessListState;
  /** Partner employees assigned to this client, for the client's half of their access. */
  partnerAccess: { assignments: ClientAssignment[]; mayGrant: boolean; csrf: string };
}

function amount(n: number, unit: string, label: string): string {
  const q = formatQuantity(n);
  return unit && !label.toLowerCase().endsWith(unit.toLowerCase()) ? `${q} ${escapeHtml(unit)}` : q;
}

function when(ts: number | Date): string {
  return `${new Date(ts).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

function metricCard(m: UsageReport['metrics'][number], report: UsageReport): string {
  const label = escapeHtml(m.label);
  if (m.limit === null) {
    return `<section class="card metric" data-metric="${escapeHtml(m.metric)}" data-used="${m.used}">
  <h2>${label}</h2>
  <p class="figure"><span class="used">${formatQuantity(m.used)}</span> ${m.unit ? escapeHtml(m.unit) : ''} this month</p>
  <p class="muted">Your plan does not limit ${label.toLowerCase()}: it is counted, never refused.</p>
</section>`;
  }
  const percent = m.percent ?? 0;
  const level = percent >= 100 ? 'over' : percent >= 90 ? 'high' : percent >= 75 ? 'mid' : 'low';
  // A class per whole percent, not a style attribute: the Content-Security-Policy allows no inline style.
  const width = Math.round(Math.min(100, Math.max(0, percent)));
  const markers = m.thresholds
    .filter((t) => t <= 100)
    .map((t) => `<span class="marker at-${Math.round(t)}" title="${t}%"></span>`)
    .join('');
  const tiers = m.thresholds
    .map((t) => {
      const crossed = m.tiersCrossed.includes(t);
      return `<li class="tier${crossed ? ' crossed' : ''}" data-tier="${t}" data-crossed="${crossed}">${t}%</li>`;
    })
    .join('');
  const ahead = m.expectedByNow !== null && m.used > m.expectedByNow;
  const pace =
    m.actualDaily !== null && m.expectedDaily !== null
      ? `<p class="pace ${ahead ? 'ahead' : 'steady'}">Pace: about ${formatQuantity(m.actualDaily)} a day; ${formatQuantity(m.expectedDaily)} a day uses the allowance exactly by ${formatDate(report.periodEnd)}. ${ahead ? `You are <strong>ahead of pace</strong> (a steady pace would be at ${formatQuantity(m.expectedByNow ?? 0)} by now).` : 'You are within pace.'}</p>`
      : '';
  const projection =
    m.projected !== null
      ? `<p class="projection">At this pace: about <span class="projected">${formatQuantity(m.projected)}</span> by the end of the month${m.projected > m.limit ? ` — <strong>over the limit</strong>` : ''}.</p>`
      : '<p class="projection muted">A projection appears after the first day of use.</p>';
  return `<section class="card metric level-${level}" data-metric="${escapeHtml(m.metric)}" data-used="${m.used}" data-limit="${m.limit}" data-percent="${percent}">
  <h2>${label}</h2>
  <p class="figure"><span class="used">${formatQuantity(m.used)}</span> of <span class="limit">${amount(m.limit, m.unit, m.label)}</span> <span class="percent">(${percent}%)</span></p>
  <div class="bar" role="progressbar" aria-valuenow="${percent}" aria-valuemin="0" aria-valuemax="100"><span class="fill w-${width}"></span>${markers}</div>
  <ul class="tiers" aria-label="alert tiers">${tiers}</ul>
  ${pace}
  ${projection}
</section>`;
}

function downgradeList(report: UsageReport): string {
  if (report.downgrades.length === 0) {
    return '<p class="muted">There is no lower plan to move to.</p>';
  }
  return `<ul class="downgrades">${report.downgrades
    .map(
      (
        d,
      ) => `<li class="downgrade ${d.allowed ? 'allowed' : 'refused'}" data-plan="${escapeHtml(d.plan)}" data-allowed="${d.allowed}">
    <strong>${escapeHtml(d.displayName)}</strong> — ${d.allowed ? 'you can move now.' : `not now. <span class="reason">${escapeHtml(d.message)}</span>`}
  </li>`,
    )
    .join('')}</ul>`;
}

function alertTable(view: DashboardView): string {
  if (view.alerts.length === 0) return '<p class="muted">No alerts this month.</p>';
  const label = (metric: string) => view.report.metrics.find((m) => m.metric === metric)?.label ?? metric;
  return `<table class="alerts"><thead><tr><th>When</th><th>Metric</th><th>Alert</th><th>Severity</th><th>Used</th></tr></thead><tbody>${view.alerts
    .map(
      (a) =>
        `<tr data-alert="${escapeHtml(a.id)}"><td>${when(a.occurredAt)}</td><td>${escapeHtml(label(a.metric))}</td><td>${a.kind === 'PACE' ? `pace: ${a.threshold}% early` : `${a.threshold}% of the allowance`}</td><td><span class="sev sev-${escapeHtml(a.severity.toLowerCase())}">${escapeHtml(a.severity)}</span></td><td>${formatQuantity(a.used)} of ${formatQuantity(a.limit)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

function emailTable(view: DashboardView): string {
  if (view.emails.length === 0) return '<p class="muted">No emails this month.</p>';
  return `<table class="emails"><thead><tr><th>When</th><th>To</th><th>Subject</th><th>Status</th></tr></thead><tbody>${view.emails
    .map(
      (e) =>
        `<tr><td>${when(e.sentAt ?? e.recordedAt)}</td><td>${escapeHtml(e.recipient)}</td><td>${escapeHtml(e.subject ?? '')}</td><td>${escapeHtml(e.state)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
}

function accessList(view: DashboardView): string {
  const { access } = view;
  const synced = access.syncedAt ? `updated ${when(access.syncedAt)}` : 'not synced from Heroku yet';
  const rows = access.entries
    .map(
      (e) => `<li><span>${escapeHtml(e.email)}</span> <span class="role">${escapeHtml(e.role)}</span></li>`,
    )
    .join('');
  return `<p class="muted">People with access to the app on Heroku receive the alert emails (${synced}).</p>${rows ? `<ul class="people">${rows}</ul>` : ''}`;
}

function partnerAccess(view: DashboardView): string {
  const { assignments, mayGrant, csrf } = view.partnerAccess;
  if (assignments.length === 0) return '';
  const rows = assignments
    .map((a) => {
      const form = (action: 'grant' | 'revoke', label: string) =>
        `<form method="post" action="/dashboard/partner-access" class="inline"><input type="hidden" name="_csrf" value="${escapeHtml(csrf)}"><input type="hidden" name="email" value="${escapeHtml(a.email)}"><input type="hidden" name="action" value="${action}"><button type="submit">${label}</button></form>`;
      const control = mayGrant ? (a.granted ? form('revoke', 'End access') : form('grant', 'Allow')) : '';
      return `<li data-email="${escapeHtml(a.email)}" data-granted="${a.granted}"><span>${escapeHtml(a.name)} &lt;${escapeHtml(a.email)}&gt; of ${escapeHtml(a.partner)}</span> <span class="role">${a.granted ? 'allowed' : 'waiting for your approval'}</span> ${control}</li>`;
    })
    .join('');
  return `<section class="card" id="partner-access"><h2>Partner access</h2><p class="muted">People of your provider's partners who asked to see this account's usage. They see it only once you allow it${mayGrant ? '' : " (the app's owner or an admin can)"}.</p><ul class="people">${rows}</ul></section>`;
}

export function renderDashboard(view: DashboardView): string {
  const { report } = view;
  const d = new Date(report.periodStart);
  const month = `${monthName(d.getTime())} ${d.getUTCFullYear()}`;
  const title = view.resourceName ?? report.resourceId;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Usage · ${escapeHtml(title)} · Meterline</title>
<style>${STYLE}</style>
</head>
<body>
<header class="top">
  <div class="brand">Meterline</div>
  <div class="who">${view.viewer.verified ? escapeHtml(view.viewer.email) : 'Signed in through Heroku (email not verified)'}</div>
</header>
<main>
  <div class="heading">
    <div>
      <h1>${escapeHtml(title)}</h1>
      <p class="muted">${view.appName ? `on app <strong>${escapeHtml(view.appName)}</strong> · ` : ''}plan <span class="plan" data-plan="${escapeHtml(report.plan)}">${escapeHtml(report.planDisplayName)}</span></p>
    </div>
    <div class="period" data-days-left="${report.daysLeft}">
      <div class="big">${report.daysLeft}</div>
      <div class="muted">day${report.daysLeft === 1 ? '' : 's'} left in ${month}<br>resets ${formatDate(report.periodEnd)}</div>
    </div>
  </div>
  <div class="grid">${report.metrics.map((m) => metricCard(m, report)).join('\n')}</div>
  ${report.overLimit ? `<section class="card note"><h2>Over the limit</h2><p>${escapeHtml(report.overLimit)}</p><p class="muted">Upgrade your plan from the add-on's page on Heroku to raise the limits at once.</p></section>` : ''}
  <section class="card"><h2>Moving to a lower plan</h2>${downgradeList(report)}</section>
  <section class="card"><h2>Alerts this month</h2>${alertTable(view)}</section>
  <section class="card"><h2>Emails this month</h2>${emailTable(view)}</section>
  <section class="card"><h2>Who is notified</h2>${accessList(view)}</section>
  ${partnerAccess(view)}
</main>
</body>
</html>`;
}

/** A plain page for "you need to come through Heroku" and similar. */
export function renderMessage(title: string, text: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Meterline</title><style>${STYLE}</style></head>
<body><header class="top"><div class="brand">Meterline</div></header><main><section class="card"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></section></main></body></html>`;
}

export const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2430;background:#f4f5f8}
.top{display:flex;justify-content:space-between;align-items:center;padding:12px 28px;background:#2d1e5f;color:#fff}
.brand{font-weight:700;letter-spacing:.02em}.who{opacity:.85;font-size:14px}
main{max-width:1040px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:16px;margin:0 0 10px}
.muted{color:#6b7280}.heading{display:flex;justify-content:space-between;align-items:flex-end;margin-bottom:18px;gap:16px}
.plan{display:inline-block;padding:1px 10px;border-radius:999px;background:#e9e4fb;color:#4b2ea3;font-weight:600}
.period{text-align:right;display:flex;gap:10px;align-items:center}.period .big{font-size:34px;font-weight:700;color:#4b2ea3}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:16px;margin-bottom:16px}
.card{background:#fff;border-radius:10px;padding:18px 20px;box-shadow:0 1px 2px rgba(16,24,40,.08);margin-bottom:16px}
.grid .card{margin:0}
.figure{font-size:18px;margin:0 0 10px}.figure .used{font-weight:700}
.bar{position:relative;height:12px;border-radius:6px;background:#eceef3;overflow:hidden;margin-bottom:10px}
.fill{display:block;height:100%;background:#3aa675;border-radius:6px}
.level-mid .fill{background:#e0a526}.level-high .fill{background:#e0762b}.level-over .fill{background:#d13d3d}
.marker{position:absolute;top:0;bottom:0;width:2px;background:rgba(0,0,0,.25)}
.tiers{list-style:none;display:flex;flex-wrap:wrap;gap:6px;padding:0;margin:0 0 10px}
.tier{font-size:12px;padding:1px 8px;border-radius:999px;border:1px solid #d6d9e0;color:#6b7280}
.tier.crossed{background:#fde8e1;border-color:#f0a68e;color:#a1381c;font-weight:600}
.pace,.projection{margin:4px 0;font-size:14px}.pace.ahead strong{color:#b0451b}
.downgrades{list-style:none;padding:0;margin:0}.downgrade{padding:8px 0;border-top:1px solid #eef0f4}
.downgrade:first-child{border-top:0}.downgrade.allowed strong{color:#237a52}.downgrade.refused strong{color:#a1381c}
table{width:100%;border-collapse:collapse;font-size:14px}th{text-align:left;color:#6b7280;font-weight:600}
th,td{padding:6px 8px;border-top:1px solid #eef0f4}
.sev{font-size:12px;padding:1px 8px;border-radius:999px;background:#eceef3}
.sev-warning{background:#fdf0d5;color:#8a5a00}.sev-critical{background:#fde1e1;color:#a11d1d}.sev-info{background:#e1efff;color:#1d4f91}
.people{list-style:none;padding:0;margin:0}.people li{display:flex;justify-content:space-between;padding:4px 0;border-top:1px solid #eef0f4}
.role{font-size:12px;color:#6b7280}
.note p{margin:4px 0}
${percentClasses()}`;

/** `.w-N` (a bar's fill) and `.at-N` (a tier's marker) for every whole percent from 0 to 100. */
function percentClasses(): string {
  const rules: string[] = [];
  for (let n = 0; n <= 100; n++) rules.push(`.w-${n}{width:${n}%}.at-${n}{left:${n}%}`);
  return rules.join('\n');
}
