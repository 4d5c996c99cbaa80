import { configReader } from '@meterline/runtime';
import { migrate } from './migrate.ts';
import { createPool } from './pool.ts';

// `pnpm migrate`: applies pending migrations to DATABASE_URL (and DATABASE_SCHEMA when set).
const c = configReader();
const url = c.url('DATABASE_URL', ['postgres', 'postgresql'], { secret: true });
const schema = c.optionalString('DATABASE_SCHEMA');
try {
  c.done();
} catch (err) {
  process.stderr.write(`${String(err instanceof Error ? err.message : err)}\n`);
  process.exit(1);
}
const pool = createPool(url, schema ? { schema } : {});
const applied = await migrate(pool, schema ? { schema } : {});
process.stdout.write(`${applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date'}\n`);
await pool.end();
