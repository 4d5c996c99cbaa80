/** Runs the fake Heroku Platform API on its own (PORT, default 0 = any free port); it seeds nothing. */
import { startFakePlatform } from './server.ts';

const port = Number(process.env.PORT ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`PORT must be a port number, got "${process.env.PORT}"\n`);
  process.exit(1);
}
const fake = await startFakePlatform({ port, clientSecret: process.env.HEROKU_OAUTH_CLIENT_SECRET });
process.stdout.write(`HEROKU_API_URL=${fake.url}\nHEROKU_ID_URL=${fake.idUrl}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void fake.close().then(() => process.exit(0));
  });
}
