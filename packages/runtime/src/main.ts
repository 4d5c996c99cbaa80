import type { Logger } from 'pino';
import { ConfigError } from './config.ts';
import { createLogger } from './log.ts';
import type { Shutdown } from './shutdown.ts';

/** Runs a service's start function and owns its signals: a SIGTERM/SIGINT that arrives while the
 * service is still starting is kept and honoured as soon as it has started. A bad configuration or
 * a failed start exits non-zero with a message that names the problem. */
export async function runService(
  service: string,
  start: (log: Logger) => Promise<{ shutdown: Shutdown }>,
): Promise<void> {
  const log = createLogger(service);
  let early: NodeJS.Signals | null = null;
  const remember = (signal: NodeJS.Signals) => {
    early = signal;
  };
  process.once('SIGTERM', remember);
  process.once('SIGINT', remember);
  try {
    const { shutdown } = await start(log);
    process.off('SIGTERM', remember);
    process.off('SIGINT', remember);
    shutdown.installSignalHandlers();
    if (early) process.kill(process.pid, early);
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
