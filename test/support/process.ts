import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serviceNodeArgs } from '@meterline/runtime';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Services still running: a test or benchmark that ends without stopping them (a thrown error, an
 * assertion that failed before its cleanup) takes them along instead of leaving them consuming. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ServiceProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** Resolves once the service logged that it started (its signal handlers are in place from then). */
  started(timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts a service entry point (e.g. 'services/ingestor/src/main.ts') as its own process. */
export function startServiceProcess(entry: string, env: Record<string, string>): ServiceProcess {
  // SERVICE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the services of a test or bench.
  const service = /services\/([^/]+)\//.exec(entry)?.[1] ?? '';
  const nodeArgs = [
    ...serviceNodeArgs(service),
    ...(process.env.SERVICE_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
  ];
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
    cwd: repoRoot,
    // info level at least: `started()` waits for the service's "<name> started" line.
    // MET_PARENT_PID: a test runner killed with SIGKILL takes its services along.
    env: {
      ...process.env,
      ...env,
      MET_PARENT_PID: String(process.pid),
      LOG_LEVEL: env.LOG_LEVEL === 'debug' ? 'debug' : 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // SERVICE_LOG_DIR keeps each process's whole output (output() keeps only its last part), e.g. for
  // reading a fault suite's run afterwards.
  const logDir = process.env.SERVICE_LOG_DIR;
  const logFile = logDir ? join(logDir, `${service || 'service'}-${child.pid}.log`) : undefined;
  if (logDir) mkdirSync(logDir, { recursive: true });
  const keep = (d: Buffer) => {
    if (logFile) appendFileSync(logFile, d);
  };
  child.stdout?.on('data', (d: Buffer) => {
    keep(d);
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  });
  child.stderr?.on('data', (d: Buffer) => {
    keep(d);
    out += d.toString();
  });
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    output: () => out,
    exited,
    async started(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!/"msg":"[a-z]+ started"/.test(out)) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`${entry} exited before it started:\n${out.slice(-3000)}`);
        if (Date.now() > deadline)
          throw new Error(`${entry} did not start within ${timeoutMs} ms:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
