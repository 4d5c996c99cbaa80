export { listMigrations, type Migration, migrate } from './migrate.ts';
export {
  createPool,
  type DatabaseSettings,
  inTransaction,
  type Pool,
  type PoolClient,
  pg,
  quoteIdent,
  readDatabaseSettings,
} from './pool.ts';
