import { env, envSchema } from '@meterline/runtime';
import pg from 'pg';

export { pg };
export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** A Postgres pool. `schema` isolates a test run (its own search_path); production uses public. */
export function createPool(
  url: string,
  opts: { schema?: string; max?: number; application?: string; readOnly?: boolean; workMem?: string } = {},
): pg.Pool {
  // readOnly: every transaction of every connection is read-only, so Postgres itself refuses a write
  // (what a report over the store, such as the back-test, must never make). workMem: memory a sort or
  // hash may use before it spills to disk (a report's aggregation over a whole quarter wants more).
  if (opts.workMem !== undefined && !/^\d+(kB|MB|GB)$/.test(opts.workMem))
    throw new RangeError(`createPool: workMem must look like 64MB, got "${opts.workMem}"`);
  const settings = [
    ...(opts.schema ? [`-c search_path=${quoteIdent(opts.schema)}`] : []),
    ...(opts.readOnly ? ['-c default_transaction_read_only=on'] : []),
    ...(opts.workMem ? [`-c work_mem=${opts.workMem}`] : []),
  ];
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.application ?? 'meterline',
    ...(settings.length > 0 ? { options: settings.join(' ') } : {}),
  });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  // Nor a checked-out client's: its connection can drop between two queries (a Postgres restart while
  // a transaction waits on Kafka), and pg then emits 'error' on the client, which the pool listens to
  // only while it is idle; an 'error' nobody listens to ends the process. The query in flight or the
  // next one fails instead, and release() drops the broken client.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a safe SQL identifier: ${name}`);
  return `"${name}"`;
}

export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

export interface DatabaseSettings {
  databaseUrl: string;
  /** a schema of its own (tests); default public */
  databaseSchema: string | undefined;
}

export const databaseEnv = envSchema(
  {
    DATABASE_URL: env.url(['postgres', 'postgresql'], { secret: true }),
    DATABASE_SCHEMA: env.optionalString(),
  },
  (e): DatabaseSettings => ({ databaseUrl: e.DATABASE_URL, databaseSchema: e.DATABASE_SCHEMA }),
);
