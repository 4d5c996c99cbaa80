import { inTransaction, type Pool } from '@meterline/db';
import {
  DEFAULT_DOWNGRADE_RULE,
  DEFAULT_PACE_GUARDS,
  type DowngradeRule,
  loadPlanCatalog,
  type PaceGuards,
  type PlanCatalog,
  PlanCatalogError,
} from '@meterline/rules';
import { ConfigError, env, envSchema } from '@meterline/runtime';

/** Reads PLANS_FILE; a bad file stops the service with a message naming the variable, the plan and
 * the field. */
export function readCatalogFile(path: string | undefined): PlanCatalog {
  if (!path) throw new ConfigError([{ variable: 'PLANS_FILE', problem: 'is required but not set' }]);
  try {
    return loadPlanCatalog(path);
  } catch (err) {
    const problem = err instanceof PlanCatalogError || err instanceof Error ? err.message : String(err);
    throw new ConfigError([{ variable: 'PLANS_FILE', problem }]);
  }
}

/** The owner of the plan tables (plans, plan_catalogs). */

/** Stores the catalog in Postgres under its version (idempotent). The plans table holds the
 * current catalog; earlier versions stay in plan_catalogs so an alert can say which judged it. */
export async function storeCatalog(pool: Pool, catalog: PlanCatalog, source: string): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':meterline-catalog'))`);
    await client.query(
      'INSERT INTO plan_catalogs (version, source, content) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING',
      [catalog.version, source, JSON.stringify(catalog)],
    );
    await client.query('DELETE FROM plans WHERE NOT (name = ANY($1::text[]))', [
      catalog.plans.map((p) => p.name),
    ]);
    for (const p of catalog.plans) {
      await client.query(
        `INSERT INTO plans (name, rank, limits, thresholds, pace, over_limit, hidden, catalog_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (name) DO UPDATE SET rank = excluded.rank, limits = excluded.limits, thresholds = excluded.thresholds,
           pace = excluded.pace, over_limit = excluded.over_limit, hidden = excluded.hidden, catalog_version = excluded.catalog_version`,
        [
          p.name,
          p.rank,
          JSON.stringify(p.limits),
          p.thresholds,
          JSON.stringify(p.pace),
          p.overLimit,
          p.hidden,
          catalog.version,
        ],
      );
    }
  });
}

/** Every catalog version stored, newest first: what judged an older alert, or names a plan since removed. */
export async function storedCatalogs(pool: Pool): Promise<PlanCatalog[]> {
  const { rows } = await pool.query<{ content: PlanCatalog }>(
    'SELECT content FROM plan_catalogs ORDER BY loaded_at DESC',
  );
  return rows.map((r) => r.content);
}

/** Reads PLANS_FILE and stores it: what every service does at start. */
export async function loadCatalog(pool: Pool, path: string | undefined): Promise<PlanCatalog> {
  const catalog = readCatalogFile(path);
  await storeCatalog(pool, catalog, path!);
  return catalog;
}

/** The downgrade rule's knobs (ADR 0002), read the same way by the evaluator and the api. */
export const downgradeRuleEnv = envSchema(
  {
    DOWNGRADE_PROJECTION_MIN_ELAPSED: env.number({
      default: DEFAULT_DOWNGRADE_RULE.projectionMinElapsedFraction,
      min: 0,
      max: 1,
    }),
    DOWNGRADE_PROJECTION_MARGIN: env.number({ default: DEFAULT_DOWNGRADE_RULE.projectionMargin, min: 0 }),
  },
  (e): DowngradeRule => ({
    projectionMinElapsedFraction: e.DOWNGRADE_PROJECTION_MIN_ELAPSED,
    projectionMargin: e.DOWNGRADE_PROJECTION_MARGIN,
  }),
);

/** The pace rules' guards (ADR 0002), read the same way by the evaluator and the back-test (which must
 * judge as the evaluator did). */
export const paceGuardsEnv = envSchema(
  {
    PACE_MIN_ELAPSED_HOURS: env.number({ default: DEFAULT_PACE_GUARDS.minElapsedHours, min: 0 }),
    PACE_MIN_LIMIT: env.number({ default: DEFAULT_PACE_GUARDS.minLimit, min: 0 }),
  },
  (e): PaceGuards => ({ minElapsedHours: e.PACE_MIN_ELAPSED_HOURS, minLimit: e.PACE_MIN_LIMIT }),
);
