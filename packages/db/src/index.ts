export { listMigrations, type Migration, migrate } from './migrate.ts';
export { pg } from './pool.ts';
export { createPool, inTransaction, type Pool, type PoolClient, quoteIdent } from './pool.ts';
