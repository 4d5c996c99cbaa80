import { writeFileSync } from 'node:fs';
import { backtest, compareWithRecorded, formatReport } from '@meterline/advisor';
import { recordedAlerts } from '@meterline/alerts';
import { downgradeRuleEnv, paceGuardsEnv, readCatalogFile, storedCatalogs } from '@meterline/catalog';
import { createPool, databaseEnv } from '@meterline/db';
import { type PlanCatalog, periodOf } from '@meterline/rules';
import { ConfigError, parseCommandLine, readEnv, usageError } from '@meterline/runtime';
import { settings } from './env.ts';

// `pnpm backtest --catalog new-plans.yaml [--from 2026-09] [--to 2026-11]`: replays the ledger's usage of
// those months under the proposed catalog beside the current one (--current, else PLANS_FILE, else the
// catalog the services last stored) and prints what would have happened. Reads only (ADR 0016).
const USAGE =
  'usage: pnpm backtest --catalog <plans.yaml> [--current <plans.yaml>] [--from YYYY-MM] [--to YYYY-MM] [--json <file>] [--limit <n>]';

const { values } = parseCommandLine(
  {
    options: {
      catalog: { type: 'string' },
      current: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'string' },
      limit: { type: 'string' },
    },
  },
  USAGE,
);
if (!values.catalog) usageError('--catalog is required', USAGE);

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
function month(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const m = MONTH.exec(value);
  if (!m) return usageError(`--${flag}: expected a month like 2026-11, got "${value}"`, USAGE);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, 1);
}
const now = Date.now();
const to = month('to', values.to, periodOf(now).start);
const from = month(
  'from',
  values.from,
  Date.UTC(new Date(to).getUTCFullYear(), new Date(to).getUTCMonth() - 2, 1),
);
if (from > to) usageError(`--from ${values.from} is after --to ${values.to ?? 'this month'}`, USAGE);
const limit = values.limit === undefined ? 10 : Number(values.limit);
if (!Number.isInteger(limit) || limit < 0)
  usageError(`--limit: expected a whole number, got "${values.limit}"`, USAGE);

// The evaluator's own knobs, so the replay judges as it did.
const env = settings();
let config: ReturnType<typeof readConfig>;
let proposed: PlanCatalog;
const readConfig = () =>
  readEnv({ database: databaseEnv, paceGuards: paceGuardsEnv, downgradeRule: downgradeRuleEnv }, env);
try {
  config = readConfig();
  proposed = readCatalogFile(values.catalog);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}

// Read-only: Postgres refuses any write the back-test might attempt.
const pool = createPool(config.database.databaseUrl, {
  ...(config.database.databaseSchema ? { schema: config.database.databaseSchema } : {}),
  application: 'meterline-backtest',
  readOnly: true,
  workMem: '256MB',
});
try {
  let current: PlanCatalog | undefined;
  if (values.current ?? env.PLANS_FILE) current = readCatalogFile(values.current ?? env.PLANS_FILE);
  else current = (await storedCatalogs(pool))[0];
  if (!current)
    usageError(
      'no current catalog: pass --current <plans.yaml>, set PLANS_FILE, or start the services once',
      USAGE,
    );
  const report = await backtest(pool, {
    current,
    proposed,
    from,
    to,
    asOf: now,
    guards: config.paceGuards,
    downgradeRule: config.downgradeRule,
  });
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
