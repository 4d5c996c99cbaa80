import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createTestWorld, eventually, startServiceProcess, type TestWorld } from '@meterline/test/support';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const plansFile = `${root}plans.example.yaml`;
const services = ['ingestor', 'evaluator', 'notifier', 'api'] as const;

describe('every service refuses a bad configuration, naming the variable', () => {
  for (const service of services) {
    it(`${service}: bad KAFKA_BROKERS or missing DATABASE_URL -> exit 1 with the variable named`, async () => {
      const world = await createTestWorld(`cfg${service}`);
      try {
        const base: Record<string, string> = {
          ...world.env,
          PLANS_FILE: plansFile,
          INGESTOR_PORT: '0',
          EVALUATOR_PORT: '0',
          NOTIFIER_PORT: '0',
          PORT: '0',
        };
        const cases = [
          // Empty counts as missing (the parent's environment may set it, so it is blanked rather than left out).
          { env: { ...base, DATABASE_URL: '' }, variable: 'DATABASE_URL' },
          ...(service === 'api'
            ? []
            : [{ env: { ...base, KAFKA_BROKERS: 'not a broker list' }, variable: 'KAFKA_BROKERS' }]),
        ];
        for (const c of cases) {
          const proc = startServiceProcess(`services/${service}/src/main.ts`, c.env);
          const code = await proc.exited;
          expect(code, proc.output()).toBe(1);
          expect(proc.output()).toContain(c.variable);
        }
      } finally {
        await world.close();
      }
    });
  }
});

/** `pnpm start` (scripts/start.ts) with a test world's settings; its output collected. */
function startAll(world: TestWorld) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: root,
    env: {
      ...process.env,
      ...world.env,
      LOG_LEVEL: 'info',
      PLANS_FILE: plansFile,
      INGESTOR_PORT: '0',
      EVALUATOR_PORT: '0',
      NOTIFIER_PORT: '0',
      PORT: '0',
      API_TOKEN: 'start-test-token',
      EMAIL_FROM: 'Meterline <alerts@meterline.test>',
      HEROKU_ADDON_ID: 'meterline',
      HEROKU_ADDON_PASSWORD: 'secret',
      HEROKU_SSO_SALT: 'salt',
      HEROKU_OAUTH_CLIENT_SECRET: 'oauth-secret',
      HEROKU_API_URL: 'http://127.0.0.1:9',
      HEROKU_ID_URL: 'http://127.0.0.1:9',
      PROVISIONING_MODE: 'sync',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const allStarted = () =>
    eventually(
      async () => services.every((s) => new RegExp(`^${s}\\s*\\|.*"msg":"${s} started"`, 'm').test(out)),
      { timeoutMs: 90_000, what: `all four services started\n${out.slice(-4000)}` },
    );
  return { child, output: () => out, exited, allStarted };
}

/** A process's state and command line, from /proc. */
const procLine = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return `${stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)} ${cmd}`;
  } catch {
    return 'gone';
  }
};

/** Whether a process runs: one that exited but was not reaped yet (a zombie: its parent died, and the
 * machine's init may reap late) has exited. */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
};

describe('pnpm start', () => {
  it('runs all four services; SIGTERM makes each shut down in order and exit 0', async () => {
    const world = await createTestWorld('start');
    try {
      const { child, output, exited, allStarted } = startAll(world);
      await allStarted();
      child.kill('SIGTERM');
      const code = await exited;
      expect(code, output().slice(-4000)).toBe(0);
      for (const s of services) {
        expect(output()).toMatch(new RegExp(`^${s}\\s*\\|.*shutdown: complete`, 'm'));
        expect(output()).toMatch(new RegExp(`^${s}\\s*\\| exited 0`, 'm'));
      }
    } finally {
      await world.close();
    }
  });

  it('killed with SIGKILL, leaves no service running: each stops by itself', async () => {
    const world = await createTestWorld('startkill');
    try {
      const { child, exited, allStarted } = startAll(world);
      await allStarted();
      // The services are start.ts's children (beside esbuild's, which tsx starts).
      const pids = execFileSync('pgrep', ['-P', String(child.pid), '-f', 'services/'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map(Number);
      expect(pids).toHaveLength(services.length);
      child.kill('SIGKILL');
      await exited;
      await eventually(async () => pids.every((pid) => !alive(pid)), {
        timeoutMs: 60_000,
        what: 'every service of the killed pnpm start gone',
      }).catch((err: Error) => {
        const left = pids.filter(alive).map((pid) => `${pid}: ${procLine(pid)}`);
        throw new Error(`${err.message}; still running:\n${left.join('\n')}`);
      });
    } finally {
      await world.close();
    }
  });
});
