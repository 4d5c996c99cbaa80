import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { backtest, compareWithRecorded, formatReport } from '@meterline/advisor';
import { recordedAlerts } from '@meterline/alerts';
import { readCatalogFile, readDowngradeRule, storedCatalogs } from '@meterline/catalog';
import { createPool } from '@meterline/db';
import { DEFAULT_PACE_GUARDS, type PlanCatalog, periodOf } from '@meterline/rules';
import { ConfigError, configReader } from '@meterline/runtime';
import { settings } from './env.ts';

// `pnpm backtest --catalog new-plans.yaml [--from 2026-09] [--to 2026-11]`: replays the ledger's usage of
// those months under the proposed catalog beside the current one (--current, else PLANS_FILE, else the
// catalog the services last stored) and prints what would have happened. Reads only (ADR 0016).
const USAGE =
  'usage: pnpm backtest --catalog <plans.yaml> [--current <plans.yaml>] [--from YYYY-MM] [--to YYYY-MM] [--json <file>] [--limit <n>]';

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

let values: Record<string, string | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      catalog: { type: 'string' },
      current: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'string' },
      limit: { type: 'string' },
    },
    strict: true,
  }));
} catch (err) {
  fail((err as Error).message);
}
if (!values.catalog) fail('--catalog is required');

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
function month(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const m = MONTH.exec(value);
  if (!m) fail(`--${flag}: expected a month like 2026-11, got "${value}"`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
}
const now = Date.now();
const thisMonth = periodOf(now).start;
const to = month('to', values.to, thisMonth);
const from = month(
  'from',
  values.from,
  Date.UTC(new Date(to).getUTCFullYear(), new Date(to).getUTCMonth() - 2, 1),
);
if (from > to) fail(`--from ${values.from} is after --to ${values.to ?? 'this month'}`);
const limit = values.limit === undefined ? 10 : Number(values.limit);
if (!Number.isInteger(limit) || limit < 0) fail(`--limit: expected a whole number, got "${values.limit}"`);

const env = settings();
const c = configReader(env);
const databaseUrl = c.url('DATABASE_URL', ['postgres', 'postgresql'], { secret: true });
const guards = {
  minElapsedHours: c.number('PACE_MIN_ELAPSED_HOURS', {
    default: DEFAULT_PACE_GUARDS.minElapsedHours,
    min: 0,
  }),
  minLimit: c.number('PACE_MIN_LIMIT', { default: DEFAULT_PACE_GUARDS.minLimit, min: 0 }),
};
const downgradeRule = readDowngradeRule(c);
let proposed: PlanCatalog;
try {
  c.done();
  proposed = readCatalogFile(values.catalog);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : String(err));
  process.exit(2);
}

// Read-only: Postgres refuses any write the back-test might attempt.
const pool = createPool(databaseUrl, {
  schema: env.DATABASE_SCHEMA,
  application: 'meterline-backtest',
  readOnly: true,
  workMem: '256MB',
});
try {
  let current: PlanCatalog | undefined;
  if (values.current ?? env.PLANS_FILE) current = readCatalogFile(values.current ?? env.PLANS_FILE);
  else current = (await storedCatalogs(pool))[0];
  if (!current)
    fail('no current catalog: pass --current <plans.yaml>, set PLANS_FILE, or start the services once');
  const report = await backtest(pool, { current, proposed, from, to, asOf: now, guards, downgradeRule });
  console.log(formatReport(report, { limit }));
  const check = compareWithRecorded(report.currentAlerts, await recordedAlerts(pool, report.periods));
  const unchecked = report.periods.filter((p) => !check.periods.includes(p));
  console.log(
    check.periods.length === 0
      ? '\nNo alerts are recorded for these periods: the replay cannot be checked against the pipeline.'
      : `\nIn ${check.periods.join(', ')} the replay of the current catalog reproduces ${check.reproduced} of the ` +
          `${check.recorded} alerts the pipeline recorded, and decides ${check.extra.length} it did not.` +
          (unchecked.length > 0
            ? ` ${unchecked.join(', ')} have no recorded alerts (usage from before the pipeline).`
            : ''),
  );
  if (values.json) {
    const { currentAlerts: _alerts, ...rest } = report;
    const plain = {
      ...rest,
      current: { ...rest.current, blockedDowngrades: Object.fromEntries(rest.current.blockedDowngrades) },
      proposed: { ...rest.proposed, blockedDowngrades: Object.fromEntries(rest.proposed.blockedDowngrades) },
      recorded: {
        periods: check.periods,
        recorded: check.recorded,
        reproduced: check.reproduced,
        extra: check.extra.length,
      },
    };
    writeFileSync(values.json, `${JSON.stringify(plain, null, 2)}\n`);
    console.log(`wrote ${values.json}`);
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
} finally {
  await pool.end();
}
