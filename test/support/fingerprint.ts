import { createHash } from 'node:crypto';
import { type Pool, quoteIdent } from '@meterline/db';

/**
 * A digest of every row of every table in `schema`, per table: equal before and after means nothing in
 * the schema was written (what a read-only report must prove). Names no table, so it holds whatever
 * the migrations add.
 */
export async function schemaFingerprint(pool: Pool, schema: string): Promise<Record<string, string>> {
  const { rows: tables } = await pool.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.tables
     WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
    [schema],
  );
  const out: Record<string, string> = {};
  for (const { table_name } of tables) {
    const qualified = `${quoteIdent(schema)}.${quoteIdent(table_name)}`;
    const { rows } = await pool.query<{ row: string }>(`SELECT t::text AS row FROM ${qualified} t`);
    const hash = createHash('sha256');
    for (const r of rows.map((x) => x.row).sort()) hash.update(r).update('\n');
    out[table_name] = `${rows.length}:${hash.digest('hex').slice(0, 16)}`;
  }
  return out;
}
