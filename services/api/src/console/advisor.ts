import type { Viewer } from '@meterline/access';
import {
  type BacktestReport,
  type PlanMetricOutcome,
  type RecordedCheck,
  SHARE_BUCKETS,
} from '@meterline/advisor';
import { escapeHtml as h } from '@meterline/notifications';
import { formatQuantity } from '@meterline/rules';
import { consolePage, csrfField, type Flash } from './render.ts';

/** What the plan advisor's form holds: the proposed catalog's YAML and the months to replay. */
export interface AdvisorForm {
  catalog: string;
  from: string;
  to: string;
}

const COLORS = { current: '#9aa3b5', proposed: '#4b2ea3' };

/**
 * The share-of-limit histogram of one plan's metric under both catalogs, as an SVG bar chart: one pair of
 * bars per bucket (grey now, purple proposed), resource-periods on the y axis. Drawn with presentation
 * attributes only, so the page's Content-Security-Policy needs no inline style for it.
 */
function histogramSvg(
  current: PlanMetricOutcome | undefined,
  proposed: PlanMetricOutcome | undefined,
): string {
  const W = 520;
  const H = 200;
  const left = 36;
  const bottom = 36;
  const top = 14;
  const plotH = H - bottom - top;
  const slot = (W - left - 8) / SHARE_BUCKETS.length;
  const bar = Math.max(3, (slot - 6) / 2);
  const max = Math.max(1, ...(current?.histogram ?? []), ...(proposed?.histogram ?? []));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  parts.push(`<line x1="${left}" y1="${top + plotH}" x2="${W - 4}" y2="${top + plotH}" stroke="#cfd3dc"/>`);
  for (const t of [0, Math.round(max / 2), max]) {
    parts.push(
      `<text x="${left - 4}" y="${y(t) + 4}" text-anchor="end" font-size="10" fill="#5a6275">${t}</text>`,
      `<line x1="${left}" y1="${y(t)}" x2="${W - 4}" y2="${y(t)}" stroke="#eef0f4"/>`,
    );
  }
  SHARE_BUCKETS.forEach((b, i) => {
    const x = left + i * slot + 3;
    const a = current?.histogram[i] ?? 0;
    const p = proposed?.histogram[i] ?? 0;
    parts.push(
      `<rect class="hbar current" data-bucket="${i}" data-count="${a}" x="${x}" y="${y(a)}" width="${bar}" height="${top + plotH - y(a)}" fill="${COLORS.current}"><title>now ${h(b.label)}: ${a}</title></rect>`,
      `<rect class="hbar proposed" data-bucket="${i}" data-count="${p}" x="${x + bar}" y="${y(p)}" width="${bar}" height="${top + plotH - y(p)}" fill="${COLORS.proposed}"><title>proposed ${h(b.label)}: ${p}</title></rect>`,
    );
    if (i % 2 === 0 || i >= 10)
      parts.push(
        `<text x="${x + bar}" y="${top + plotH + 14}" text-anchor="middle" font-size="9" fill="#5a6275">${h(b.from === 150 ? '≥150' : String(b.from))}</text>`,
      );
  });
  parts.push(
    `<text x="${left + (W - left) / 2}" y="${H - 6}" text-anchor="middle" font-size="10" fill="#5a6275">share of the limit used in a period (%)</text>`,
  );
  const label = `${current?.plan ?? proposed?.plan} ${current?.metric ?? proposed?.metric}`;
  return `<svg class="histogram" role="img" aria-label="Share of the limit used, ${h(label)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

const both = (a: string, b: string) => (a === b ? h(a) : `${h(a)} → <strong>${h(b)}</strong>`);
const crossed = (c?: { resources: number; averageDay: number | null }) =>
  !c ? '–' : c.resources === 0 ? '0' : `${c.resources} (day ${c.averageDay})`;

function planSection(a: PlanMetricOutcome | undefined, b: PlanMetricOutcome | undefined): string {
  const any = (a ?? b)!;
  const tiers = [
    ...new Set([...(a?.thresholds ?? []), ...(b?.thresholds ?? [])].map((t) => t.threshold)),
  ].sort((x, y) => x - y);
  const paces = [...new Set([...(a?.pace ?? []), ...(b?.pace ?? [])].map((t) => t.threshold))].sort(
    (x, y) => x - y,
  );
  const rows = [
    ...tiers.map(
      (t) =>
        `<tr><td>${t}% of the limit</td><td>${crossed(a?.thresholds.find((x) => x.threshold === t))}</td><td>${crossed(b?.thresholds.find((x) => x.threshold === t))}</td></tr>`,
    ),
    ...paces.map(
      (t) =>
        `<tr><td>pace: ${t}% early</td><td>${crossed(a?.pace.find((x) => x.threshold === t))}</td><td>${crossed(b?.pace.find((x) => x.threshold === t))}</td></tr>`,
    ),
  ].join('');
  const share = (x?: PlanMetricOutcome) => (x ? `${x.share.p50} / ${x.share.p90} / ${x.share.p99}` : '–');
  return `<section class="card advisor-plan" data-plan="${h(any.plan)}" data-metric="${h(any.metric)}">
<h3>${h(any.plan)} · ${h(any.metric)}</h3>
<p>Limit ${both(a ? formatQuantity(a.limit) : '–', b ? formatQuantity(b.limit) : '–')} · ${any.resourcePeriods} resource-periods ·
over the limit ${both(String(a?.overLimit ?? '–'), String(b?.overLimit ?? '–'))} · share used p50/p90/p99 ${both(share(a), share(b))} %</p>
${histogramSvg(a, b)}
<p class="legend"><svg width="10" height="10"><rect width="10" height="10" fill="${COLORS.current}"/></svg> now
<svg width="10" height="10"><rect width="10" height="10" fill="${COLORS.proposed}"/></svg> proposed</p>
<table class="crossings"><thead><tr><th>Rule</th><th>Crossed now (mean day)</th><th>Proposed</th></tr></thead><tbody>${rows}</tbody></table>
</section>`;
}

/** The plan advisor: the form, and when it ran, the back-test's report with a histogram per plan. */
export function advisorPage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  form: AdvisorForm,
  result: { report: BacktestReport; recorded: RecordedCheck; canDisable: boolean } | null,
): string {
  const formHtml = `<section class="card"><form method="post" action="/console/advisor">${csrfField(view.csrf)}
<label for="catalog">Proposed plan catalog (YAML, as PLANS_FILE)</label>
<textarea id="catalog" name="catalog" class="catalog" rows="18" spellcheck="false">${h(form.catalog)}</textarea>
<label for="from">From month</label><input type="text" id="from" name="from" value="${h(form.from)}" placeholder="2026-09">
<label for="to">To month</label><input type="text" id="to" name="to" value="${h(form.to)}" placeholder="2026-11">
<button type="submit" class="primary">Back-test</button>
</form>
<p>Replays the ledger's hourly usage of those months through the alerting and downgrade rules under this catalog and the current one. Nothing is written, published or emailed.</p></section>`;
  if (!result) return consolePage(view, 'Plan advisor', formHtml);
  const { report: r, recorded } = result;
  const keys = new Map<string, [PlanMetricOutcome | undefined, PlanMetricOutcome | undefined]>();
  for (const p of r.current.plans) keys.set(`${p.plan}|${p.metric}`, [p, undefined]);
  for (const p of r.proposed.plans)
    keys.set(`${p.plan}|${p.metric}`, [keys.get(`${p.plan}|${p.metric}`)?.[0], p]);

  const tiers = new Set([...r.current.alerts, ...r.proposed.alerts].map((t) => `${t.kind}|${t.threshold}`));
  const tierRows = [...tiers]
    .map((k) => k.split('|') as [string, string])
    .sort(([ka, ta], [kb, tb]) => (ka === kb ? Number(ta) - Number(tb) : ka === 'THRESHOLD' ? -1 : 1))
    .map(([kind, t]) => {
      const a = r.current.alerts.find((x) => x.kind === kind && x.threshold === Number(t));
      const b = r.proposed.alerts.find((x) => x.kind === kind && x.threshold === Number(t));
      return `<tr><td>${h(kind)} ${h(t)}%</td><td>${a?.alerts ?? 0} → ${b?.alerts ?? 0}</td><td>${a?.emails ?? 0} → ${b?.emails ?? 0}</td></tr>`;
    })
    .join('');
  const changes = r.downgradeChanges
    .slice(0, 50)
    .map(
      (c) =>
        `<tr><td><a href="/console/resources/${h(c.resourceId)}">${h(c.resourceId)}</a></td><td>${h(c.plan)}</td><td>${h(c.current.join(', ') || 'none')}</td><td>${h(c.proposed.join(', ') || 'none')}</td></tr>`,
    )
    .join('');
  const better = r.proposed.betterPlans
    .slice(0, 50)
    .map(
      (b) =>
        `<tr><td><a href="/console/resources/${h(b.resourceId)}">${h(b.resourceId)}</a></td><td>${h(b.plan)}</td><td>${h(b.suggested)} (${b.direction})</td></tr>`,
    )
    .join('');
  const abuse = r.abuse
    .slice(0, 50)
    .map(
      (s) =>
        `<tr class="abuse" data-resource="${h(s.resourceId)}"><td><a href="/console/resources/${h(s.resourceId)}">${h(s.resourceId)}</a></td><td>${h(s.plan)} ${h(s.metric)}</td><td>${h(s.day)}</td><td>${formatQuantity(s.used)}</td><td>${s.ratio}× (p99 ${formatQuantity(s.planP99)})</td><td>${
          result.canDisable
            ? `<form method="post" action="/console/advisor/disable" class="inline">${csrfField(view.csrf)}<input type="hidden" name="resource" value="${h(s.resourceId)}"><input type="hidden" name="reason" value="${h(`On ${s.day} this add-on used ${formatQuantity(s.used)} ${s.metric.replace(/_/g, ' ')}, ${s.ratio} times what the busiest ${s.plan} customers use in a day.`)}"><button type="submit" class="danger">Disable and tell the customer</button></form>`
            : ''
        }</td></tr>`,
    )
    .join('');
  const body = `${formHtml}
<section class="card advisor-summary"><h2>Periods ${h(r.periods.join(', '))}</h2>
<p>${r.resources} resources, ${r.rows.toLocaleString('en-US')} ledger hours, replayed in ${(r.elapsedMs / 1000).toFixed(1)} s.
Catalog ${h(r.current.version)} → ${h(r.proposed.version)}.
${
  recorded.periods.length === 0
    ? 'No alerts are recorded for these periods, so the replay cannot be checked against the pipeline.'
    : `In ${h(recorded.periods.join(', '))} the current catalog's replay reproduces <span class="reproduced">${recorded.reproduced}</span> of the ${recorded.recorded} alerts the pipeline recorded, and decides <span class="extra">${recorded.extra.length}</span> it did not.`
}</p>
${r.missingPlans.length > 0 ? `<p class="flash error">The proposed catalog has no plan ${h(r.missingPlans.join(', '))}: resources on it would be judged by nothing.</p>` : ''}
<table class="tier-counts"><thead><tr><th>Tier</th><th>Alerts now → proposed</th><th>Emails</th></tr></thead><tbody>${tierRows}
<tr><td>total</td><td class="total-alerts">${r.current.totalAlerts} → ${r.proposed.totalAlerts}</td><td>${r.current.totalEmails} → ${r.proposed.totalEmails}</td></tr></tbody></table>
<p>Over the limit: ${r.current.overLimit.length} → ${r.proposed.overLimit.length} resource-period-metrics. Downgrades blocked at the end of ${h(r.periods.at(-1) ?? '')}: ${r.current.blockedDowngrades.size} → ${r.proposed.blockedDowngrades.size}.</p></section>
${[...keys.values()].map(([a, b]) => planSection(a, b)).join('\n')}
<section class="card"><h2>Downgrades decided differently (${r.downgradeChanges.length})</h2>
<table><thead><tr><th>Resource</th><th>Plan</th><th>Refused now</th><th>Refused proposed</th></tr></thead><tbody>${changes}</tbody></table></section>
<section class="card"><h2>Better off on another plan (${r.proposed.betterPlans.length})</h2>
<p>The cheapest public plan of the proposed catalog whose limits the resource's last three periods fit.</p>
<table><thead><tr><th>Resource</th><th>Plan</th><th>Suggested</th></tr></thead><tbody>${better}</tbody></table></section>
<section class="card"><h2>Abuse signals (${r.abuse.length})</h2>
<p>A day over ${r.abuseRule.factor}× the p99 of the other resources' days on the same plan. Disabling removes the add-on through the Platform API, tells the customer why, and is audited.</p>
<table class="abuse-signals"><thead><tr><th>Resource</th><th>Plan</th><th>Day</th><th>Used</th><th>Against the plan</th><th></th></tr></thead><tbody>${abuse}</tbody></table></section>`;
  return consolePage(view, 'Plan advisor', body);
}
