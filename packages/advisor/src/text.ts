import type { BacktestReport } from './backtest.ts';
import { type PlanMetricOutcome, type RuleCrossings, SHARE_BUCKETS } from './summary.ts';

const n = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 2 });
const pad = (s: string, w: number) => (s.length >= w ? s : s + ' '.repeat(w - s.length));
const lpad = (s: string, w: number) => (s.length >= w ? s : ' '.repeat(w - s.length) + s);

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 ? pad(c, widths[i]!) : lpad(c, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Whether any resource-period used 10% of the limit or more (else there is nothing to draw). */
const used = (x: PlanMetricOutcome | undefined) => x?.histogram.slice(1).some((v) => v > 0) ?? false;

const crossing = (c: { resources: number; averageDay: number | null }) =>
  c.resources === 0 ? '0' : `${c.resources} (day ${c.averageDay})`;

/** A text bar chart of both catalogs' share-of-limit histograms for one plan's metric. */
export function textHistogram(
  current: PlanMetricOutcome | undefined,
  proposed: PlanMetricOutcome | undefined,
): string {
  const max = Math.max(1, ...(current?.histogram ?? []), ...(proposed?.histogram ?? []));
  const bar = (v: number, ch: string) => ch.repeat(Math.round((v / max) * 30));
  return SHARE_BUCKETS.map((b, i) => {
    const a = current?.histogram[i] ?? 0;
    const p = proposed?.histogram[i] ?? 0;
    return `  ${lpad(b.label, 9)}  now ${lpad(String(a), 5)} ${pad(bar(a, '█'), 30)}  new ${lpad(String(p), 5)} ${bar(p, '▒')}`;
  }).join('\n');
}

/** The CLI's report: per plan and metric side by side, alerts and emails per tier, what changes for
 * downgrades, better plans, abuse signals. */
export function formatReport(r: BacktestReport, opts: { limit?: number } = {}): string {
  const limit = opts.limit ?? 10;
  const out: string[] = [];
  out.push(
    `Back-test of catalog ${r.proposed.version} against ${r.current.version}: periods ${r.periods.join(', ')}, ` +
      `${n(r.resources)} resources, ${n(r.rows)} ledger hours, ${n(r.elapsedMs / 1000)} s ` +
      `(${n(Math.round(r.rows / Math.max(r.elapsedMs / 1000, 0.001)))} rows/s)`,
  );
  if (r.missingPlans.length > 0)
    out.push(
      `\n! The proposed catalog has no plan ${r.missingPlans.join(', ')}: resources on it are judged by nothing.`,
    );

  const keys = new Map<string, [PlanMetricOutcome | undefined, PlanMetricOutcome | undefined]>();
  for (const p of r.current.plans) keys.set(`${p.plan}|${p.metric}`, [p, undefined]);
  for (const p of r.proposed.plans) {
    const k = `${p.plan}|${p.metric}`;
    keys.set(k, [keys.get(k)?.[0], p]);
  }
  out.push(
    '\nPer plan and metric, now → proposed (crossings in resource-periods, with the mean day of the period)',
  );
  for (const [k, [a, b]] of keys) {
    const [plan, metric] = k.split('|') as [string, string];
    const both = (f: (x: PlanMetricOutcome) => string) => {
      const x = a ? f(a) : '-';
      const y = b ? f(b) : '-';
      return x === y ? x : `${x} → ${y}`;
    };
    out.push(
      `\n${plan} ${metric}: limit ${both((x) => n(x.limit))}, ${both((x) => String(x.resourcePeriods))} resource-periods, ` +
        `share used p50/p90/p99 ${both((x) => `${x.share.p50}/${x.share.p90}/${x.share.p99}%`)}, over the limit ${both((x) => String(x.overLimit))}`,
    );
    if (!used(a) && !used(b)) {
      out.push('  under 10% of the limit throughout');
      continue;
    }
    const rules = (pick: (x: PlanMetricOutcome) => RuleCrossings[], kind: string) =>
      [...new Set([...(a ? pick(a) : []), ...(b ? pick(b) : [])].map((t) => t.threshold))]
        .sort((x, y) => x - y)
        .map((t) => {
          const ca = a ? pick(a).find((x) => x.threshold === t) : undefined;
          const cb = b ? pick(b).find((x) => x.threshold === t) : undefined;
          return `  ${pad(kind, 9)} ${lpad(`${t}%`, 4)}  ${pad(ca ? crossing(ca) : '-', 16)} → ${cb ? crossing(cb) : '-'}`;
        });
    out.push(...rules((x) => x.thresholds, 'THRESHOLD'), ...rules((x) => x.pace, 'PACE'));
  }

  out.push('\nAlerts and emails per tier (now → proposed)');
  const tierKeys = new Set(
    [...r.current.alerts, ...r.proposed.alerts].map((t) => `${t.kind}|${t.threshold}`),
  );
  const tierRows = [...tierKeys]
    .map((k) => {
      const [kind, th] = k.split('|') as [string, string];
      const a = r.current.alerts.find((t) => `${t.kind}|${t.threshold}` === k);
      const b = r.proposed.alerts.find((t) => `${t.kind}|${t.threshold}` === k);
      return { kind, threshold: Number(th), a, b };
    })
    .sort((x, y) => (x.kind === y.kind ? x.threshold - y.threshold : x.kind === 'THRESHOLD' ? -1 : 1))
    .map(({ kind, threshold, a, b }) => [
      `${kind} ${threshold}%`,
      `${a?.alerts ?? 0} → ${b?.alerts ?? 0}`,
      `${a?.emails ?? 0} → ${b?.emails ?? 0}`,
    ]);
  tierRows.push([
    'total',
    `${r.current.totalAlerts} → ${r.proposed.totalAlerts}`,
    `${r.current.totalEmails} → ${r.proposed.totalEmails}`,
  ]);
  out.push(table(['tier', 'alerts', 'emails'], tierRows));

  out.push(
    `\nOver the limit: ${r.current.overLimit.length} → ${r.proposed.overLimit.length} resource-period-metrics. ` +
      `Downgrades blocked at the end of ${r.periods.at(-1)}: ${r.current.blockedDowngrades.size} → ${r.proposed.blockedDowngrades.size} resources.`,
  );
  if (r.downgradeChanges.length > 0) {
    out.push(`Downgrades decided differently (${r.downgradeChanges.length}):`);
    for (const c of r.downgradeChanges.slice(0, limit))
      out.push(
        `  ${c.resourceId} (${c.plan}): refused to ${c.current.join(', ') || 'nothing'} now, to ${c.proposed.join(', ') || 'nothing'} proposed`,
      );
  }

  const better = r.proposed.betterPlans;
  out.push(
    `\nBetter off on another plan under the proposed catalog (last three periods fit it): ${better.length}`,
  );
  for (const b of better.slice(0, limit))
    out.push(`  ${b.resourceId}: ${b.plan} → ${b.suggested} (${b.direction})`);

  out.push('\nShare of the limit used per resource-period (█ now, ▒ proposed)');
  for (const [k, [a, b]] of keys) {
    if (!used(a) && !used(b)) continue;
    out.push(`${k.replace('|', ' ')}`);
    out.push(textHistogram(a, b));
  }

  out.push(
    `\nAbuse signals (a day over ${r.abuseRule.factor}× the plan's p99 of other resources' days): ${r.abuse.length}`,
  );
  for (const s of r.abuse.slice(0, limit))
    out.push(
      `  ${s.resourceId} (${s.plan} ${s.metric}): ${n(s.used)} on ${s.day}, ${s.ratio}× the plan's p99 of ${n(s.planP99)}`,
    );
  return out.join('\n');
}
