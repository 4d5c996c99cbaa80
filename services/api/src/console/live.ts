/** The live page (ADR 0019): the alert, flag and DLQ rows, their filters, and the row markup the
 * stream sends too, so the page's script only inserts rows the server rendered and escaped. */
import type { Viewer } from '@meterline/access';
import { escapeHtml as h } from '@meterline/notifications';
import { formatQuantity } from '@meterline/rules';
import { consolePage, type Flash } from './render.ts';

/** One row of the live page: an alert, a downgrade flag, or a DLQ record. */
export interface LiveRow {
  /** Unique per record: the page never shows two rows of one key. */
  key: string;
  type: 'alert' | 'flag' | 'dlq';
  /** When it was published (ms). */
  at: number;
  resourceId: string | null;
  clientId: string | null;
  plan: string;
  metric: string;
  severity: string;
  /** THRESHOLD or PACE for an alert, `flag`, or the DLQ reason. */
  kind: string;
  detail: string;
}

/** The page's filters, from its query string; empty means any. */
export interface LiveFilter {
  client: string;
  plan: string;
  metric: string;
  severity: string;
  /** THRESHOLD, PACE, flag, dlq (any DLQ reason) or one DLQ reason */
  kind: string;
  /** A resource id, or the start of one. */
  q: string;
}

export const FILTER_FIELDS = ['client', 'plan', 'metric', 'severity', 'kind', 'q'] as const;

export function filterOf(query: Record<string, unknown>): LiveFilter {
  const get = (k: string) => {
    const v = query[k];
    return typeof v === 'string' ? v.trim().slice(0, 200) : '';
  };
  return {
    client: get('client'),
    plan: get('plan'),
    metric: get('metric'),
    severity: get('severity').toUpperCase(),
    kind: get('kind'),
    q: get('q').toLowerCase(),
  };
}

export function matches(row: LiveRow, f: LiveFilter): boolean {
  if (f.client && row.clientId !== f.client) return false;
  if (f.plan && row.plan !== f.plan) return false;
  if (f.metric && row.metric !== f.metric) return false;
  if (f.severity && row.severity !== f.severity) return false;
  if (f.kind) {
    const k = f.kind.toLowerCase();
    if (k === 'dlq' ? row.type !== 'dlq' : row.kind.toLowerCase() !== k) return false;
  }
  if (f.q && !(row.resourceId ?? '').startsWith(f.q)) return false;
  return true;
}

const when = (ts: number) => new Date(ts).toISOString().replace('T', ' ').slice(0, 19);

/** One `<tr>`, as the page renders it and the stream sends it. */
export function liveRowHtml(r: LiveRow): string {
  const resource = r.resourceId
    ? `<a href="/console/resources/${h(r.resourceId)}"><code>${h(r.resourceId.slice(0, 8))}</code></a>`
    : '<span class="muted">none</span>';
  const client = r.clientId
    ? `<a href="/console/clients/${encodeURIComponent(r.clientId)}">${h(r.clientId)}</a>`
    : '';
  return `<tr data-key="${h(r.key)}" data-type="${r.type}" data-kind="${h(r.kind)}" data-resource="${h(r.resourceId ?? '')}"><td>${when(r.at)}</td><td><span class="status ${r.type}">${r.type === 'dlq' ? 'DLQ' : r.type}</span></td><td>${h(r.kind)}</td><td>${h(r.severity)}</td><td>${client}</td><td>${resource}</td><td>${h(r.plan)}</td><td>${h(r.metric)}</td><td>${h(r.detail)}</td></tr>`;
}

export const alertDetail = (a: {
  threshold: number;
  used: number;
  limit: number;
  percent: number;
  metric: string;
}) => `${a.threshold}%: ${formatQuantity(a.used)} of ${formatQuantity(a.limit)} (${Math.round(a.percent)}%)`;

export function livePage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  o: { rows: LiveRow[]; filter: LiveFilter; streamUrl: string | null; kinds: string[] },
): string {
  const f = o.filter;
  const input = (name: keyof LiveFilter, label: string, list?: string) =>
    `<label>${label} <input name="${name}" id="filter-${name}" value="${h(f[name])}"${list ? ` list="${list}"` : ''}></label>`;
  const form = `<form method="get" action="/console/live" class="filters">
${input('client', 'Client')} ${input('plan', 'Plan')} ${input('metric', 'Metric')}
<label>Severity <select name="severity" id="filter-severity">${['', 'INFO', 'WARNING', 'CRITICAL']
    .map((s) => `<option value="${s}"${s === f.severity ? ' selected' : ''}>${s || 'any'}</option>`)
    .join('')}</select></label>
${input('kind', 'Kind', 'live-kinds')}<datalist id="live-kinds">${o.kinds.map((k) => `<option value="${h(k)}"></option>`).join('')}</datalist>
${input('q', 'Resource id')}
<button type="submit">Filter</button></form>`;
  const state = o.streamUrl
    ? '<p id="live-state" data-state="connecting" class="muted">Connecting…</p>'
    : '<p id="live-state" data-state="off" class="muted">The live feed is off: this api has no KAFKA_BROKERS and SCHEMA_REGISTRY_URL.</p>';
  const table = `<table id="live-rows"${o.streamUrl ? ` data-stream="${h(o.streamUrl)}"` : ''}>
<thead><tr><th>Published (UTC)</th><th>What</th><th>Kind</th><th>Severity</th><th>Client</th><th>Resource</th><th>Plan</th><th>Metric</th><th>Detail</th></tr></thead>
<tbody>${o.rows.map(liveRowHtml).join('')}</tbody></table>`;
  return consolePage(
    view,
    'Live',
    `<section class="card"><p class="muted">Alerts, downgrade flags and DLQ records as the topics carry them, newest first.</p>${form}${state}${table}</section>
<script src="/console/live.js" defer></script>`,
  );
}
