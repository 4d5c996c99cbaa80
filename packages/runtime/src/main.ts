import type { Logger } from 'pino';
import { ConfigError } from './config.ts';
import { createLogger } from './log.ts';

/** Runs a service's start function; a bad configuration or a failed start exits non-zero with a
 * message that names the problem. */
export async function runService(service: string, start: (log: Logger) => Promise<unknown>): Promise<void> {
  const log = createLogger(service);
  try {
    await start(log);
  } catch (err) {
    if (err instanceof ConfigError) {
      log.fatal({ problems: err.problems }, err.message);
      process.stderr.write(`${service}: ${err.message}\n`);
    } else {
      log.fatal({ err }, 'failed to start');
    }
    // Let pino flush before exiting.
    setTimeout(() => process.exit(1), 50);
  }
}
