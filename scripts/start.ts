import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serviceNodeArgs } from '../packages/runtime/src/node-args.ts';

// `pnpm start`: runs the four services, settings from the environment (falling back to what
// `pnpm infra:up` wrote to .infra/env). SIGTERM/SIGINT reach every service, which shut down in
// order; this exits 0 only when all of them exited 0.
const root = fileURLToPath(new URL('../', import.meta.url));
const services = (process.env.MET_SERVICES ?? 'ingestor,evaluator,notifier,api').split(',');

function infraEnv(): Record<string, string> {
  const file = `${root}.infra/env`;
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return out;
}

const env = { ...infraEnv(), ...process.env } as Record<string, string>;
env.PLANS_FILE ??= `${root}plans.example.yaml`;
// The api needs a key of its own to seal OAuth tokens; a local run (and the demo, which runs this) gets
// a fixed development key unless one is set. Deployments run each service's main and must set it.
env.TOKEN_ENCRYPTION_KEY ??= 'meterline-local-development-key';
// The services stop by themselves if this process is killed without passing a signal on (SIGKILL).
env.MET_PARENT_PID = String(process.pid);
const children = new Map<string, ChildProcess>();
const exits: Promise<[string, number | null]>[] = [];
const width = Math.max(...services.map((s) => s.length));

for (const name of services) {
  const child = spawn(
    process.execPath,
    [...serviceNodeArgs(name), '--import', 'tsx', `services/${name}/src/main.ts`],
    {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.set(name, child);
  const prefix = `${name.padEnd(width)} | `;
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.on('data', (d: Buffer) => {
      const lines = (rest + d.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${prefix + line}\n`);
    });
  }
  exits.push(new Promise((resolve) => child.on('exit', (code) => resolve([name, code]))));
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    for (const child of children.values()) child.kill('SIGTERM');
  });
}

// If one service dies on its own, stop the others: a half-running pipeline is worse than none.
void Promise.race(exits).then(([name, code]) => {
  if (!stopping) {
    console.error(`${name} exited with ${code}; stopping the others`);
    stopping = true;
    for (const child of children.values()) child.kill('SIGTERM');
  }
});

const results = await Promise.all(exits);
const failed = results.filter(([, code]) => code !== 0);
for (const [name, code] of results) console.log(`${name.padEnd(width)} | exited ${code}`);
process.exit(failed.length === 0 && stopping ? 0 : 1);
