import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestWorld, eventually, startServiceProcess } from '@meterline/test/support';
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

describe('pnpm start', () => {
  it('runs all four services; SIGTERM makes each shut down in order and exit 0', async () => {
    const world = await createTestWorld('start');
    try {
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
      await eventually(
        async () => services.every((s) => new RegExp(`^${s}\\s*\\|.*"msg":"${s} started"`, 'm').test(out)),
        {
          timeoutMs: 90_000,
          what: `all four services started\n${out.slice(-4000)}`,
        },
      );
      child.kill('SIGTERM');
      expect(await exited, out.slice(-4000)).toBe(0);
      for (const s of services) {
        expect(out).toMatch(new RegExp(`^${s}\\s*\\|.*shutdown: complete`, 'm'));
        expect(out).toMatch(new RegExp(`^${s}\\s*\\| exited 0`, 'm'));
      }
    } finally {
      await world.close();
    }
  });
});
