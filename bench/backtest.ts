import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { backtest } from '@meterline/advisor';
import { readCatalogFile } from '@meterline/catalog';
import { createPool, migrate } from '@meterline/db';
import { ledgerEventCount } from '@meterline/metering';
import { seedSyntheticLedger } from '@meterline/metering/fixtures';
import { seedResources } from '@meterline/resources/fixtures';
import { serviceUrls } from '@meterline/test/support';

// `pnpm bench:backtest`: the plan advisor's replay over a quarter of hourly ledger rows. BACKTEST_RESOURCES
// (default 10,000) resources on the three public plans, three metrics, every hour of the BACKTEST_MONTHS
// (3) whole months before this one, written in Postgres in its own schema (kept between runs: the second
// run with the same size skips the writing). Prints the replay's time and rows per second; needs Postgres
// (`pnpm infra:up`).
const R = Number(process.env.BACKTEST_RESOURCES ?? 10_000);
const MONTHS = Number(process.env.BACKTEST_MONTHS ?? 3);
const out = (s: string) => process.stdout.write(`${s}\n`);
const root = fileURLToPath(new URL('../', import.meta.url));

const urls = await serviceUrls();
const schema = `bench_backtest_${R}_${MONTHS}`;
const pool = createPool(urls.databaseUrl, { schema, max: 4 });
await migrate(pool, { schema });
const now = new Date();
const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - MONTHS, 1);
const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);

// Monthly usage around half the plan's allowance (each resource its own scale), per hour.
const plans = [
  { plan: 'hobby', share: 0.5, limits: { api_calls: 10_000, storage_gb: 1, webhooks: 1_000 } },
  { plan: 'basic', share: 0.3, limits: { api_calls: 100_000, storage_gb: 10, webhooks: 10_000 } },
  { plan: 'pro', share: 0.2, limits: { api_calls: 1_000_000, storage_gb: 100, webhooks: 100_000 } },
];
const hoursPerMonth = 730;
let seeded = false;
if ((await ledgerEventCount(pool)) === 0) {
  const t0 = performance.now();
  const ids: string[] = [];
  const bases: Record<string, number>[] = [];
  for (const p of plans) {
    const n = Math.round(R * p.share);
    ids.push(
      ...(await seedResources(
        pool,
        Array.from({ length: n }, (_, i) => ({
          plan: p.plan,
          name: `${p.plan}-${i}`,
          ownerId: `owner-${p.plan}-${i}`,
          provisionedAt: new Date(start - 86_400_000),
        })),
      )),
    );
    bases.push(
      Object.fromEntries(Object.entries(p.limits).map(([m, limit]) => [m, (0.5 * limit) / hoursPerMonth])),
    );
  }
  // Every plan's resources a day at a time, days in order: the ledger's pages in time order.
  let offset = 0;
  const groups = plans.map((p, i) => {
    const n = Math.round(R * p.share);
    const g = { ids: ids.slice(offset, offset + n), metrics: bases[i]! };
    offset += n;
    return g;
  });
  for (let day = start; day < end; day += 86_400_000)
    for (const g of groups)
      await seedSyntheticLedger(pool, {
        resourceIds: g.ids,
        metrics: g.metrics,
        start: day,
        end: day + 86_400_000,
      });
  await pool.query('ANALYZE');
  seeded = true;
  out(`wrote the ledger in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const current = readCatalogFile(`${root}plans.example.yaml`);
const proposed = readCatalogFile(`${root}docs/examples/plans-proposed.yaml`);
const reports = createPool(urls.databaseUrl, { schema, max: 2, readOnly: true, workMem: '256MB' });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const report = await backtest(reports, { current, proposed, from: start, to: end - 1, asOf: end });
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const result = {
  date: new Date().toISOString().slice(0, 10),
  resources: report.resources,
  periods: report.periods.join(', '),
  rows: report.rows,
  seconds: Math.round(seconds * 100) / 100,
  rowsPerSecond: Math.round(report.rows / seconds),
  cpuSecondsOfNode: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
  alerts: { current: report.current.totalAlerts, proposed: report.proposed.totalAlerts },
  abuseSignals: report.abuse.length,
  freshlyWritten: seeded,
};
out(
  `back-test: ${result.resources} resources × ${report.periods.length} months, ${result.rows.toLocaleString('en-US')} ledger hours ` +
    `in ${result.seconds} s (${result.rowsPerSecond.toLocaleString('en-US')} rows/s; Node CPU ${result.cpuSecondsOfNode} s); ` +
    `alerts ${result.alerts.current} now, ${result.alerts.proposed} proposed`,
);
const file = new URL(`./results/backtest${process.env.BENCH_RESULT_SUFFIX ?? ''}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
out(`results written to ${file.pathname}`);
await reports.end();
await pool.end();
