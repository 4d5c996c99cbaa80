import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  childrenOf,
  eventually,
  isRunning,
  startServiceProcess,
  type TestWorld,
  worldTest,
} from '@meterline/test/support';
import { describe, expect } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const plansFile = `${root}plans.example.yaml`;
const services = ['ingestor', 'evaluator', 'notifier', 'api'] as const;

// Each test starts services in a fresh world of its own, closed when the test ends.
const it = worldTest('services', { scope: 'test' });

describe('every service refuses a bad configuration, naming the variable', () => {
  for (const service of services) {
    it(`${service}: bad KAFKA_BROKERS or missing DATABASE_URL -> exit 1 with the variable named`, async ({
      world,
    }) => {
      const base: Record<string, string> = {
        ...world.env,
        PLANS_FILE: plansFile,
        INGESTOR_PORT: '0',
        EVALUATOR_PORT: '0',
        NOTIFIER_PORT: '0',
        PORT: '0',
        API_OPS_PORT: '0',
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
    });
  }
});

describe('pnpm start', () => {
  const startEnv = (world: TestWorld): Record<string, string> => ({
    ...(process.env as Record<string, string>),
    ...world.env,
    LOG_LEVEL: 'info',
    PLANS_FILE: plansFile,
    INGESTOR_PORT: '0',
    EVALUATOR_PORT: '0',
    NOTIFIER_PORT: '0',
    PORT: '0',
    API_OPS_PORT: '0',
    API_TOKEN: 'start-test-token',
    EMAIL_FROM: 'Meterline <alerts@meterline.test>',
    HEROKU_ADDON_ID: 'meterline',
    HEROKU_ADDON_PASSWORD: 'secret',
    HEROKU_SSO_SALT: 'salt',
    HEROKU_OAUTH_CLIENT_SECRET: 'oauth-secret',
    TOKEN_ENCRYPTION_KEY: 'start-test-token-encryption-key',
    HEROKU_API_URL: 'http://127.0.0.1:9',
    HEROKU_ID_URL: 'http://127.0.0.1:9',
    PROVISIONING_MODE: 'sync',
  });
  const startProcess = (env: Record<string, string>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { child, exited, output: () => out };
  };
  const started = (names: readonly string[], output: () => string) =>
    eventually(
      async () => names.every((s) => new RegExp(`^${s}\\s*\\|.*"msg":"${s} started"`, 'm').test(output())),
      { timeoutMs: 90_000, what: `${names.join(', ')} started\n${output().slice(-4000)}` },
    );

  it('runs all four services; SIGTERM makes each shut down in order and exit 0', async ({ world }) => {
    const { child, exited, output } = startProcess(startEnv(world));
    await started(services, output);
    child.kill('SIGTERM');
    expect(await exited, output().slice(-4000)).toBe(0);
    for (const s of services) {
      expect(output()).toMatch(new RegExp(`^${s}\\s*\\|.*shutdown: complete`, 'm'));
      expect(output()).toMatch(new RegExp(`^${s}\\s*\\| exited 0`, 'm'));
    }
  });

  it('killed with SIGKILL, it leaves no service running: each notices and stops by itself', async ({
    world,
  }) => {
    const names = ['ingestor', 'evaluator'] as const;
    const { child, exited, output } = startProcess({ ...startEnv(world), MET_SERVICES: names.join(',') });
    await started(names, output);
    const pids = childrenOf(child.pid!);
    expect(pids).toHaveLength(names.length);
    expect(pids.every(isRunning)).toBe(true);
    child.kill('SIGKILL');
    await exited;
    await eventually(async () => !pids.some(isRunning), {
      timeoutMs: 30_000,
      what: 'the services of a killed `pnpm start` gone',
    });
  });
});
