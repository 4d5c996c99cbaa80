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
    const parent = parentToFollow(process.env);
    const { shutdown } = await start(log);
    process.off('SIGTERM', remember);
    process.off('SIGINT', remember);
    shutdown.installSignalHandlers();
    if (early) process.kill(process.pid, early);
    if (parent !== null) stopWithParent(parent, log);
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

/** MET_PARENT_PID: the process that started this one (`pnpm start`, the tests and the benchmark set it).
 * Unset: the service runs on its own, whatever its parent does (a supervisor, a shell with nohup). */
function parentToFollow(env: Record<string, string | undefined>): number | null {
  const value = env.MET_PARENT_PID;
  if (value === undefined || value === '') return null;
  if (!/^[1-9]\d*$/.test(value))
    throw new ConfigError([{ variable: 'MET_PARENT_PID', problem: `must be a process id, got "${value}"` }]);
  return Number(value);
}

/** Once the parent is gone (this process was handed to another one: its parent pid changed), the
 * service stops as on SIGTERM: a runner killed with SIGKILL leaves no service consuming behind it. Its
 * logs then go to a pipe nobody reads; pino drops them on the first EPIPE. */
function stopWithParent(parent: number, log: Logger, intervalMs = 500): void {
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    log.warn({ parent }, 'the process that started this service is gone: stopping');
    process.kill(process.pid, 'SIGTERM');
  }, intervalMs);
  timer.unref();
}
