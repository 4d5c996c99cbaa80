export { listMigrations, type Migration, migrate } from './migrate.ts';
export { createPool, inTransaction, type Pool, type PoolClient, pg, quoteIdent } from './pool.ts';
