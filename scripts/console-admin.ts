import { parseArgs } from 'node:util';
import { ALL_PERMISSIONS, TeamAccess } from '@meterline/access';
import { createPool, migrate } from '@meterline/db';
import { settings } from './env.ts';

// `pnpm console:admin --email a@b.c --name "A B"`: makes the first super admin of the console (or makes an
// existing account one). The password comes from CONSOLE_ADMIN_PASSWORD, or the account keeps its own.
const { values } = parseArgs({
  options: { email: { type: 'string' }, name: { type: 'string' } },
  strict: true,
});
if (!values.email) {
  console.error(
    'usage: pnpm console:admin --email <email> [--name <name>] (password: CONSOLE_ADMIN_PASSWORD)',
  );
  process.exit(2);
}
const env = settings();
if (!env.DATABASE_URL) {
  console.error('DATABASE_URL is not set (run pnpm infra:up, or set it)');
  process.exit(2);
}
const pool = createPool(env.DATABASE_URL, {
  schema: env.DATABASE_SCHEMA,
  application: 'meterline-console-admin',
});
try {
  await migrate(pool, { schema: env.DATABASE_SCHEMA });
  const team = new TeamAccess(pool);
  const script = { accountId: null, email: 'console-admin script', ip: null };
  if (!(await team.accountByEmail(values.email))) {
    const password = env.CONSOLE_ADMIN_PASSWORD;
    if (!password) {
      console.error(`${values.email} has no account: set CONSOLE_ADMIN_PASSWORD to create it`);
      process.exit(2);
    }
    await team.createAccount({ email: values.email, name: values.name ?? values.email, password }, script);
  }
  await team.addCompanyUser({ email: values.email, permissions: ALL_PERMISSIONS, superAdmin: true }, script);
  console.log(`${values.email} is a super admin of the console`);
} finally {
  await pool.end();
}
