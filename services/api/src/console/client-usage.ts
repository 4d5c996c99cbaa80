/** The client page's usage section: per add-on, each metric against its limit with a chart of the
 * period so far, the alerts and emails sent, and whether a downgrade is blocked and why. */
import type { LedgerDay } from '@meterline/metering';
import { escapeHtml as h } from '@meterline/notifications';
import { DAY, formatQuantity } from '@meterline/rules';
import type { ResourceUsage } from '../client-usage.ts';
import type { MetricReport, UsageReport } from '../usage-report.ts';

const COLORS = { used: '#4b2ea3', pace: '#9aa3b5', tier: '#d08a2c' };

/**
 * One metric's period as an SVG line chart: the counter at the end of each day so far (the ledger's
 * days summed up, today's point the live counter), the steady pace that uses the limit exactly by the
 * period end (the expected daily average, summed), and a line per threshold tier. Presentation
 * attributes only: the page's Content-Security-Policy needs no inline style for it.
 */
function usageChartSvg(m: MetricReport, report: UsageReport, days: readonly LedgerDay[]): string {
  if (m.limit === null) return '';
  const W = 520;
  const H = 180;
  const left = 56;
  const right = 44;
  const top = 10;
  const bottom = 24;
  const periodDays = Math.round((report.periodEnd - report.periodStart) / DAY);
  const today = Math.min(periodDays, Math.floor((report.now - report.periodStart) / DAY) + 1);
  const byDay = new Map(days.filter((d) => d.metric === m.metric).map((d) => [d.day, d.quantity]));
  const points: [number, number][] = [[0, 0]];
  let sum = 0;
  for (let d = 1; d <= today; d++) {
    sum += byDay.get(report.periodStart + (d - 1) * DAY) ?? 0;
    points.push([d, d === today ? Math.max(sum, m.used) : sum]);
  }
  const tiers = m.thresholds.map((t) => (m.limit! * t) / 100);
  const max = Math.max(1, m.used, ...tiers, m.projected ?? 0) * 1.05;
  const x = (d: number) => left + (d / periodDays) * (W - left - right);
  const y = (v: number) => top + (H - top - bottom) * (1 - v / max);
  const parts: string[] = [
    `<line x1="${left}" y1="${y(0)}" x2="${W - right}" y2="${y(0)}" stroke="#ccc"/>`,
    `<text x="${left - 4}" y="${y(0)}" font-size="10" text-anchor="end">0</text>`,
    `<text x="${left}" y="${H - 6}" font-size="10">day 1</text>`,
    `<text x="${W - right}" y="${H - 6}" font-size="10" text-anchor="end">day ${periodDays}</text>`,
  ];
  m.thresholds.forEach((t, i) => {
    const v = tiers[i]!;
    parts.push(
      `<line class="tier" data-tier="${t}" x1="${left}" y1="${y(v).toFixed(1)}" x2="${W - right}" y2="${y(v).toFixed(1)}" stroke="${COLORS.tier}" stroke-width="1" stroke-dasharray="2 3"/>`,
      `<text x="${W - right + 4}" y="${(y(v) + 3).toFixed(1)}" font-size="10" fill="${COLORS.tier}">${t}%</text>`,
    );
  });
  if (m.expectedDaily !== null)
    parts.push(
      `<line class="pace" x1="${x(0)}" y1="${y(0)}" x2="${x(periodDays)}" y2="${y(Math.min(max, m.expectedDaily * periodDays)).toFixed(1)}" stroke="${COLORS.pace}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
      `<text x="${left - 4}" y="${(y(m.limit) + 3).toFixed(1)}" font-size="10" text-anchor="end">${formatQuantity(m.limit)}</text>`,
    );
  parts.push(
    `<polyline class="used" fill="none" stroke="${COLORS.used}" stroke-width="2" points="${points
      .map(([d, v]) => `${x(d).toFixed(1)},${y(v).toFixed(1)}`)
      .join(' ')}"/>`,
  );
  const label = `${m.label}: ${formatQuantity(m.used)} of ${formatQuantity(m.limit)} by day ${today}; dashed grey: the steady pace of ${formatQuantity(m.expectedDaily ?? 0)} a day; dotted: the tiers`;
  return `<svg class="usage-chart" data-metric="${h(m.metric)}" role="img" aria-label="${h(label)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg"><title>${h(label)}</title>${parts.join('')}</svg>`;
}

const when = (ts: number) => `${new Date(ts).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

function resourceUsage(u: ResourceUsage): string {
  const { resource: r, report, flag } = u;
  const metrics = report.metrics
    .map(
      (m) =>
        `<tr data-metric="${h(m.metric)}"><td>${h(m.label)}</td><td class="used">${formatQuantity(m.used)}</td><td>${m.limit === null ? 'not limited' : formatQuantity(m.limit)}</td><td>${m.percent === null ? '' : `${m.percent}%`}</td><td>${m.expectedDaily === null ? '' : `${formatQuantity(m.expectedDaily)} a day`}</td></tr>`,
    )
    .join('');
  const charts = report.metrics.map((m) => usageChartSvg(m, report, u.days)).join('');
  const blocked = report.downgrades.filter((d) => !d.allowed);
  const downgrade =
    flag?.downgradeBlocked || blocked.length > 0
      ? `<p class="downgrade" data-blocked="true">Downgrade blocked${
          flag?.downgradeBlocked ? ` to ${h(flag.blockedPlans.join(', '))}: ${h(flag.reason)}` : ''
        }</p><ul>${blocked.map((d) => `<li data-plan="${h(d.plan)}">${h(d.displayName)}: ${h(d.message)}</li>`).join('')}</ul>`
      : '<p class="downgrade" data-blocked="false">Downgrades are allowed.</p>';
  const alerts = u.alerts
    .map(
      (a) =>
        `<tr data-alert="${h(a.id)}"><td>${when(a.occurredAt)}</td><td>${h(a.metric)}</td><td>${h(a.kind)} ${a.threshold}%</td><td>${h(a.severity)}</td></tr>`,
    )
    .join('');
  const emails = u.emails
    .map(
      (e) =>
        `<tr data-email-state="${h(e.state)}"><td>${h(e.recipient)}</td><td>${h(e.subject ?? '')}</td><td>${h(e.state)}</td></tr>`,
    )
    .join('');
  return `<section class="card" data-usage="${h(r.id)}"><h2><a href="/console/resources/${h(r.id)}">${h(r.name ?? r.id)}</a> · ${h(report.planDisplayName)}, ${report.daysLeft} days left</h2>
<table class="metrics"><thead><tr><th>Metric</th><th>Used</th><th>Limit</th><th>%</th><th>Steady pace</th></tr></thead><tbody>${metrics}</tbody></table>
${charts}${downgrade}
<h3>Alerts this period</h3>${alerts ? `<table class="alerts"><tbody>${alerts}</tbody></table>` : '<p class="muted">None.</p>'}
<h3>Emails this period</h3>${emails ? `<table class="emails"><tbody>${emails}</tbody></table>` : '<p class="muted">None.</p>'}</section>`;
}

/** The section for the client page; empty when the client has no provisioned add-on. */
export function clientUsageSection(usages: readonly ResourceUsage[]): string {
  return usages.length === 0 ? '' : `<div id="client-usage">${usages.map(resourceUsage).join('')}</div>`;
}
