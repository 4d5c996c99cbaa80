import { readdirSync, readFileSync } from 'node:fs';
import type pg from 'pg';
import { inTransaction, quoteIdent } from './pool.ts';

const migrationsDir = new URL('../migrations/', import.meta.url);

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Versioned SQL files packages/db/migrations/NNN_name.sql, applied in order, each once. */
export function listMigrations(): Migration[] {
  return readdirSync(migrationsDir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(new URL(file, migrationsDir), 'utf8'),
    }));
}

/** Applies pending migrations under an advisory lock, so services starting together don't race.
 * Returns the names applied now. */
export async function migrate(pool: pg.Pool, opts: { schema?: string } = {}): Promise<string[]> {
  const applied: string[] = [];
  await inTransaction(pool, async (client) => {
    if (opts.schema) {
      // CREATE SCHEMA IF NOT EXISTS races with itself, so the lock is taken on the schema's name first.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext($1 || ':meterline-migrate'))`, [opts.schema]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(opts.schema)}`);
      await client.query(`SET LOCAL search_path TO ${quoteIdent(opts.schema)}`);
    }
    if (!opts.schema)
      await client.query(`SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':meterline-migrate'))`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
        (r) => r.version,
      ),
    );
    for (const m of listMigrations()) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
        m.version,
        m.name,
      ]);
      applied.push(m.name);
    }
  });
  return applied;
}
