/**
 * Fails (exit 1, naming file and line) when code crosses an ownership boundary (ADR 0013):
 * - SQL on a table outside the package that owns it. Every table a migration creates must have an
 *   owner here; its SQL (FROM, JOIN, INTO, UPDATE, TRUNCATE, ...) may appear only under the owner's
 *   directory. Migrations themselves are the schema and are not checked.
 * - a service importing another service (services compose packages; test/e2e composes services).
 * Run by `pnpm lint` (and so by `pnpm test` and CI).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from './env.ts';

/** table -> the directory whose code owns it (reads and writes it; everyone else calls that code). */
export const OWNERS: Record<string, string> = {
  plans: 'packages/catalog/src',
  plan_catalogs: 'packages/catalog/src',
  usage_ledger: 'packages/metering/src',
  ledger_watermarks: 'packages/metering/src',
  counter_generations: 'packages/metering/src',
  resources: 'packages/resources/src',
  resource_events: 'packages/resources/src',
  provision_answers: 'packages/resources/src',
  resource_oauth_tokens: 'packages/resources/src',
  platform_jobs: 'packages/resources/src',
  resource_access: 'packages/resources/src',
  resource_access_sync: 'packages/resources/src',
  resource_contacts: 'packages/resources/src',
  alerts: 'packages/alerts/src',
  plan_flags: 'packages/alerts/src',
  notifier_alerts: 'packages/deliveries/src',
  emails: 'packages/deliveries/src',
  deliveries: 'packages/deliveries/src',
  accounts: 'packages/access/src',
  company_users: 'packages/access/src',
  partners: 'packages/access/src',
  partner_employees: 'packages/access/src',
  client_assignments: 'packages/access/src',
  client_grants: 'packages/access/src',
  hidden_plan_installs: 'packages/access/src',
  console_sessions: 'packages/access/src',
  api_keys: 'packages/access/src',
  audit_log: 'packages/access/src',
  staff_users: 'packages/access/src',
  dashboard_sessions: 'packages/access/src',
  schema_migrations: 'packages/db/src',
};

const SERVICES = readdirSync(join(repoRoot, 'services'));
const SCANNED = ['services', 'packages', 'test', 'bench', 'scripts', 'infra', 'schemas'];

function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|lua)$/.test(entry.name)) yield path;
  }
}

/** The tables the migrations create. */
function migrationTables(): string[] {
  const dir = join(repoRoot, 'packages/db/migrations');
  const tables: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
    for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/g))
      tables.push(m[1]!);
  }
  const migrate = readFileSync(join(repoRoot, 'packages/db/src/migrate.ts'), 'utf8');
  for (const m of migrate.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(?:\$\{[^}]+\}\.)?(\w+)/g))
    tables.push(m[1]!);
  return [...new Set(tables)];
}

/** Tables a line's SQL names: after FROM, JOIN, INTO, UPDATE, TABLE, TRUNCATE (with its list). SQL here is
 * written in upper case, so prose ("read from resources") is not taken for it. */
export function tablesIn(line: string): string[] {
  const found: string[] = [];
  for (const m of line.matchAll(/\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+(?:ONLY\s+)?"?([a-z_][a-z0-9_]*)\b/g))
    found.push(m[1]!);
  for (const m of line.matchAll(/\bTRUNCATE\s+(?:TABLE\s+)?([a-z_][a-z0-9_, ]*)/g))
    for (const t of m[1]!.split(',')) if (t.trim()) found.push(t.trim());
  return found;
}

const problems: string[] = [];
const tables = migrationTables();
for (const t of tables)
  if (!OWNERS[t]) problems.push(`table ${t} (packages/db/migrations) has no owner in OWNERS`);

for (const top of SCANNED) {
  for (const file of sourceFiles(join(repoRoot, top))) {
    const rel = relative(repoRoot, file);
    if (rel === 'scripts/check-boundaries.ts') continue;
    const service = /^services\/([^/]+)\//.exec(rel)?.[1];
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const table of tablesIn(line)) {
          const owner = OWNERS[table];
          if (owner && !rel.startsWith(`${owner}/`))
            problems.push(`${rel}:${i + 1}: SQL on ${table}, which ${owner} owns: call its store instead`);
        }
        if (service) {
          const m = /from '@meterline\/([a-z-]+)/.exec(line);
          if (m && SERVICES.includes(m[1]!) && m[1] !== service)
            problems.push(`${rel}:${i + 1}: the ${service} service imports the ${m[1]} service`);
        }
      });
  }
}

if (problems.length > 0) {
  console.error(`ownership boundaries crossed (ADR 0013):\n${problems.map((p) => `  ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(
  `ownership boundaries hold: ${tables.length} tables, each SQL'd only by its owner; no service imports another`,
);
