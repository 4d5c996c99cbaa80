import { ConfigError, readEnv } from '@meterline/runtime';
import { migrate } from './migrate.ts';
import { createPool, databaseEnv } from './pool.ts';

// `pnpm migrate`: applies pending migrations to DATABASE_URL (and DATABASE_SCHEMA when set).
let url: string;
let schema: string | undefined;
try {
  ({ databaseUrl: url, databaseSchema: schema } = readEnv({ database: databaseEnv }).database);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
const pool = createPool(url, schema ? { schema } : {});
const applied = await migrate(pool, schema ? { schema } : {});
process.stdout.write(`${applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date'}\n`);
await pool.end();
