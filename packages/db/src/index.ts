export { listMigrations, type Migration, migrate } from './migrate.ts';
export {
  createPool,
  type DatabaseSettings,
  databaseEnv,
  inTransaction,
  type Pool,
  type PoolClient,
  pg,
  quoteIdent,
} from './pool.ts';
