/** The console's pipeline health page (ADR 0018): consumer lag per group and partition, the DLQ's last
 * hour by reason, email deliveries pending and failed, Redis memory. Charts are SVG drawn here with
 * presentation attributes only, so the Content-Security-Policy needs no inline style for them. */
import type { Viewer } from '@meterline/access';
import type { DeliveryBacklog } from '@meterline/deliveries';
import type { DlqWindowReport, GroupLag, PipelineGroup } from '@meterline/kafka';
import { escapeHtml as h } from '@meterline/notifications';
import type { RedisMemory } from '@meterline/redis';
import type { Figure, PipelineHealthReport } from '../pipeline-health.ts';
import { consolePage, type Flash } from './render.ts';

const INK = '#5a6275';
const GRID = '#eef0f4';
const LAG = { none: '#3aa675', some: '#e0a526', over: '#d13d3d' };
/** A partition this far behind is drawn red. */
const LAG_ALARM = 10_000;

const when = (ts: number | Date) => `${new Date(ts).toISOString().replace('T', ' ').slice(0, 19)} UTC`;
const count = (n: number) => n.toLocaleString('en-US');

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}

const unreadable = (what: string, error: string) =>
  `<p class="flash error" role="alert">Could not read ${h(what)}: ${h(error)}</p>`;

/** One horizontal bar per partition, its length the records behind (one scale for the group). */
export function lagBarsSvg(lag: GroupLag): string {
  const W = 520;
  const row = 22;
  const left = 90;
  const right = 70;
  const H = Math.max(1, lag.partitions.length) * row + 8;
  const max = Math.max(1, ...lag.partitions.map((p) => p.lag));
  const parts = lag.partitions.map((p, i) => {
    const y = 4 + i * row;
    const w = p.lag === 0 ? 0 : Math.max(2, ((W - left - right) * p.lag) / max);
    const fill = p.lag === 0 ? LAG.none : p.lag >= LAG_ALARM ? LAG.over : LAG.some;
    return [
      `<text x="${left - 8}" y="${y + 14}" text-anchor="end" font-size="12" fill="${INK}">partition ${p.partition}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${W - left - right}" height="14" rx="3" fill="${GRID}"/>`,
      `<rect class="lag-bar" data-group="${h(lag.groupId)}" data-partition="${p.partition}" data-lag="${p.lag}" x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="14" rx="3" fill="${fill}"><title>partition ${p.partition}: ${count(p.lag)} behind</title></rect>`,
      `<text x="${W - right + 6}" y="${y + 14}" font-size="12" fill="${INK}">${count(p.lag)}</text>`,
    ].join('');
  });
  return `<svg class="lag-chart" role="img" aria-label="Records behind per partition, ${h(lag.groupId)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function groupSection(group: PipelineGroup, lag: Figure<GroupLag>): string {
  const head = `<h2>${h(group.service)} <span class="muted">· group <code>${h(group.groupId)}</code> reads <code>${h(group.topic)}</code></span></h2>`;
  if (!lag.ok)
    return `<section class="card group" data-group="${h(group.groupId)}">${head}${unreadable('its lag', lag.error)}</section>`;
  const g = lag.value;
  const rows = g.partitions
    .map(
      (p) =>
        `<tr data-partition="${p.partition}"><td>${p.partition}</td><td>${p.committed === null ? '<span class="muted">none</span>' : count(p.committed)}</td><td>${count(p.end)}</td><td class="lag">${count(p.lag)}</td></tr>`,
    )
    .join('');
  const members =
    g.members === 0
      ? '<span class="status orphaned">no consumer running</span>'
      : `<span class="status active">${g.members} consumer${g.members === 1 ? '' : 's'}</span>`;
  return `<section class="card group" data-group="${h(g.groupId)}" data-lag="${g.lag}">${head}
<p class="figure"><span class="used">${count(g.lag)}</span> records behind · ${members} <span class="muted">(${h(g.state)})</span></p>
${lagBarsSvg(g)}
<table class="partitions"><thead><tr><th>Partition</th><th>Committed</th><th>End</th><th>Behind</th></tr></thead><tbody>${rows}</tbody></table>
</section>`;
}

/** The window's records per minute as columns, oldest on the left. */
export function dlqColumnsSvg(dlq: DlqWindowReport): string {
  const W = 520;
  const H = 110;
  const left = 30;
  const bottom = 18;
  const plotH = H - bottom - 8;
  const slot = (W - left) / Math.max(1, dlq.buckets.length);
  const max = Math.max(1, ...dlq.buckets.map((b) => b.records));
  const parts = [
    `<line x1="${left}" y1="${8 + plotH}" x2="${W}" y2="${8 + plotH}" stroke="#cfd3dc"/>`,
    `<text x="${left - 4}" y="16" text-anchor="end" font-size="10" fill="${INK}">${max}</text>`,
    `<text x="${left}" y="${H - 4}" font-size="10" fill="${INK}">${Math.round(dlq.windowMs / 60_000)} min ago</text>`,
    `<text x="${W}" y="${H - 4}" text-anchor="end" font-size="10" fill="${INK}">now</text>`,
  ];
  dlq.buckets.forEach((b, i) => {
    if (b.records === 0) return;
    const hgt = Math.max(1, (plotH * b.records) / max);
    parts.push(
      `<rect class="dlq-bucket" data-start="${b.start}" data-records="${b.records}" x="${(left + i * slot + 1).toFixed(1)}" y="${(8 + plotH - hgt).toFixed(1)}" width="${Math.max(1, slot - 2).toFixed(1)}" height="${hgt.toFixed(1)}" fill="#a1381c"><title>${h(when(b.start).slice(11, 16))}: ${b.records}</title></rect>`,
    );
  });
  return `<svg class="dlq-chart" role="img" aria-label="DLQ records per minute, last hour" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

function dlqSection(
  topic: string,
  dlq: Figure<DlqWindowReport & { complete: boolean }>,
  now: number,
): string {
  const head = `<h2>Dead-letter queue <span class="muted">· <code>${h(topic)}</code>, last hour, by reason</span></h2>`;
  if (!dlq.ok)
    return `<section class="card" id="dlq">${head}${unreadable('the DLQ topic', dlq.error)}</section>`;
  const d = dlq.value;
  const total = d.reasons.reduce((n, r) => n + r.records, 0);
  const rows = d.reasons
    .map(
      (r) =>
        `<tr data-reason="${h(r.reason)}"><td><code>${h(r.reason)}</code></td><td class="records">${count(r.records)}</td><td>${h(when(r.lastAt))} <span class="muted">(${age(now - r.lastAt)} ago)</span></td></tr>`,
    )
    .join('');
  return `<section class="card" id="dlq" data-records="${total}">${head}
${d.complete ? '' : '<p class="muted">Still reading the hour from the topic: the counts may grow on reload.</p>'}
<p class="figure"><span class="used">${count(total)}</span> bad event${total === 1 ? '' : 's'} in the last hour <span class="muted">(by the events' timestamps)</span></p>
${total === 0 ? '<p class="muted">None: every event of the last hour was decoded and valid.</p>' : `${dlqColumnsSvg(d)}<table class="reasons"><thead><tr><th>Reason</th><th>Records</th><th>Latest</th></tr></thead><tbody>${rows}</tbody></table>`}
</section>`;
}

function deliveriesSection(f: Figure<DeliveryBacklog>, now: number): string {
  const head = '<h2>Email deliveries</h2>';
  if (!f.ok)
    return `<section class="card" id="deliveries">${head}${unreadable('the deliveries', f.error)}</section>`;
  const d = f.value;
  const oldest = d.oldestPendingAt ? ` · the oldest waits for ${age(now - d.oldestPendingAt.getTime())}` : '';
  const failures = d.recentFailures
    .map(
      (x) => `<tr><td>${h(x.reason)}</td><td>${count(x.deliveries)}</td><td>${h(when(x.lastAt))}</td></tr>`,
    )
    .join('');
  return `<section class="card" id="deliveries" data-pending="${d.pending}" data-failed="${d.failed}">${head}
<table class="figures"><tbody>
<tr><th>Pending</th><td class="pending">${count(d.pending)}</td><td class="muted">${count(d.retrying)} after a failed attempt${oldest}</td></tr>
<tr><th>Failed</th><td class="failed">${count(d.failed)}</td><td class="muted">refused for good by the SMTP server or the address, ever</td></tr>
</tbody></table>
${failures ? `<h3>Failed in the last 24 hours</h3><table class="failures"><thead><tr><th>Reason</th><th>Deliveries</th><th>Latest</th></tr></thead><tbody>${failures}</tbody></table>` : '<p class="muted">No delivery failed in the last 24 hours.</p>'}
</section>`;
}

function redisSection(f: Figure<RedisMemory>): string {
  const head = '<h2>Redis memory</h2>';
  if (!f.ok) return `<section class="card" id="redis">${head}${unreadable('Redis', f.error)}</section>`;
  const m = f.value;
  const share = m.maxBytes ? Math.min(100, (100 * m.usedBytes) / m.maxBytes) : null;
  const level =
    share === null
      ? ''
      : share >= 90
        ? 'level-over'
        : share >= 75
          ? 'level-high'
          : share >= 50
            ? 'level-mid'
            : '';
  const bar =
    share === null
      ? '<p class="muted">No maxmemory set: Redis grows until the machine runs out.</p>'
      : `<svg class="memory-bar ${level}" role="img" aria-label="Redis memory used of maxmemory" viewBox="0 0 520 14" width="520" height="14" xmlns="http://www.w3.org/2000/svg"><rect width="520" height="14" rx="6" fill="#eceef3"/><rect data-share="${share.toFixed(1)}" width="${((520 * share) / 100).toFixed(1)}" height="14" rx="6" fill="${share >= 90 ? '#d13d3d' : share >= 75 ? '#e0762b' : '#3aa675'}"/></svg>`;
  const policy =
    m.policy === 'noeviction'
      ? `<code>${h(m.policy)}</code>`
      : `<code>${h(m.policy ?? 'unknown')}</code> <strong>· Meterline needs noeviction: counters and dedupe markers must not be evicted</strong>`;
  return `<section class="card" id="redis" data-used="${m.usedBytes}">${head}
<p class="figure"><span class="used">${bytes(m.usedBytes)}</span> used${m.maxBytes ? ` of ${bytes(m.maxBytes)} (${share!.toFixed(0)}%)` : ''}</p>
${bar}
<p class="muted">RSS ${bytes(m.rssBytes)} · peak ${bytes(m.peakBytes)} · policy ${policy}</p>
</section>`;
}

export function healthPage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  r: PipelineHealthReport,
): string {
  const kafka = r.kafka
    ? `<h2 class="section">Consumer lag</h2>${r.kafka.groups.map((g) => groupSection(g.group, g.lag)).join('\n')}
${dlqSection(r.kafka.dlqTopic, r.kafka.dlq, r.at)}`
    : `<section class="card" id="kafka-missing"><h2>Kafka</h2><p>Kafka is not configured for the api (<code>KAFKA_BROKERS</code> is not set), so consumer lag and the DLQ are not shown here. The ingestor still counts DLQ records by reason (<code>meterline_ingest_dlq_total</code> on its ops port).</p></section>`;
  return consolePage(
    view,
    'Pipeline health',
    `<p class="muted">As of ${h(when(r.at))}; the page reloads every 30 s. The same figures are on the api's ops port as Prometheus metrics.</p>
${kafka}
<div class="grid">${deliveriesSection(r.deliveries, r.at)}${redisSection(r.redis)}</div>`,
  );
}
