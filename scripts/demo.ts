import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { ALL_PERMISSIONS, TeamAccess } from '@meterline/access';
import { createPool } from '@meterline/db';
import { basicAuthHeader, ssoLoginFields } from '@meterline/heroku';
import { startFakePlatform } from '@meterline/heroku/fake';
import { createKafka } from '@meterline/kafka';
import { ResourceStore } from '@meterline/resources';
import { createLogger } from '@meterline/runtime';
import { UsageClient } from '@meterline/usage-client';
import { seedDemoHistory } from './demo-history.ts';
import { repoRoot, settings } from './env.ts';

// The demo provider behind `npm run demo`: a fake Heroku Platform API, the four services, three
// provisioned resources on different plans, a month of usage emitted in seconds (crossing tiers and
// pace rules), and a downgrade that gets refused. It prints where to look and runs until Ctrl-C.
const env = settings();
const API_PORT = Number(env.PORT ?? 3000);
const SSO_PORT = Number(env.DEMO_SSO_PORT ?? 3001);
const FAKE_PORT = Number(env.DEMO_PLATFORM_PORT ?? 5100);
const API_OPS_PORT = Number(env.API_OPS_PORT ?? 9100);
const apiUrl = `http://127.0.0.1:${API_PORT}`;
const addon = {
  id: env.HEROKU_ADDON_ID ?? 'meterline',
  password: env.HEROKU_ADDON_PASSWORD ?? 'demo-addon-password',
};
const salt = env.HEROKU_SSO_SALT ?? 'demo-sso-salt';
const clientSecret = env.HEROKU_OAUTH_CLIENT_SECRET ?? 'demo-oauth-secret';
const apiToken = env.API_TOKEN ?? 'demo-api-token';
const say = (s = '') => process.stdout.write(`${s}\n`);

const fake = await startFakePlatform({ port: FAKE_PORT, clientSecret });
const serviceEnv: Record<string, string> = {
  ...env,
  PLANS_FILE: env.PLANS_FILE ?? `${repoRoot}plans.example.yaml`,
  PORT: String(API_PORT),
  API_OPS_PORT: String(API_OPS_PORT),
  API_TOKEN: apiToken,
  HEROKU_ADDON_ID: addon.id,
  HEROKU_ADDON_PASSWORD: addon.password,
  HEROKU_SSO_SALT: salt,
  HEROKU_OAUTH_CLIENT_SECRET: clientSecret,
  HEROKU_API_URL: fake.url,
  HEROKU_ID_URL: fake.idUrl,
  PROVISIONING_MODE: env.PROVISIONING_MODE ?? 'sync',
  DASHBOARD_URL: env.DASHBOARD_URL ?? apiUrl,
  EMAIL_FROM: env.EMAIL_FROM ?? 'Meterline <alerts@meterline.local>',
  // The demo's month happened "just now": let the evaluator's pace rules and the ingestor's grace see it all.
  LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
};
const services: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
  cwd: repoRoot,
  env: serviceEnv,
  stdio: ['ignore', 'inherit', 'inherit'],
});
const servicesExited = new Promise<number | null>((resolve) => services.on('exit', resolve));
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  services.kill('SIGTERM');
  await servicesExited;
  await fake.close();
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
void servicesExited.then((code) => {
  if (!stopping) {
    say(`the services stopped (exit ${code}); stopping the demo`);
    void stop(1);
  }
});

async function waitReady(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not become ready`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
// Readiness and metrics are on each service's ops port, the api's included (ADR 0018).
for (const port of [API_OPS_PORT, 9101, 9102, 9103]) await waitReady(`http://127.0.0.1:${port}/readyz`);

// Three customers, each with an app, its owner and collaborators.
const customers = [
  {
    plan: 'hobby',
    app: 'acme-shop',
    owner: 'ada@acme.test',
    others: ['grace@acme.test'],
    apiShare: 1.2,
    storage: 0.4,
  },
  {
    plan: 'basic',
    app: 'globex-api',
    owner: 'hank@globex.test',
    others: ['marge@globex.test', 'lisa@globex.test'],
    apiShare: 0.93,
    storage: 3,
  },
  {
    plan: 'pro',
    app: 'initech-reports',
    owner: 'peter@initech.test',
    others: [],
    apiShare: 0.12,
    storage: 40,
  },
];
const resources: {
  id: string;
  plan: string;
  app: string;
  owner: string;
  apiShare: number;
  storage: number;
}[] = [];
for (const c of customers) {
  const appId = randomUUID();
  const id = randomUUID();
  fake.state.addApp({
    id: appId,
    name: c.app,
    owner: { id: randomUUID(), email: c.owner },
    collaborators: c.others.map((email) => ({ id: randomUUID(), email, role: 'collaborator' })),
  });
  const code = randomUUID();
  fake.state.registerGrant(code, { addonId: id, appId, plan: c.plan });
  const res = await fetch(`${apiUrl}/heroku/resources`, {
    method: 'POST',
    headers: {
      authorization: basicAuthHeader(addon.id, addon.password),
      'content-type': 'application/json',
      accept: 'application/vnd.heroku-addons+json; version=3',
    },
    body: JSON.stringify({
      uuid: id,
      name: `meterline-${c.app}`,
      plan: c.plan,
      region: 'amazon-web-services::us-east-1',
      callback_url: `${fake.url}/addons/${id}`,
      options: {},
      oauth_grant: {
        code,
        expires_at: new Date(Date.now() + 300_000).toISOString(),
        type: 'authorization_code',
      },
    }),
  });
  say(`provisioned ${c.plan.padEnd(5)} for ${c.app}: HTTP ${res.status}`);
  resources.push({ id, ...c });
}

// The demo's customers have been with us for months: their resources date from then, so the pace
// rules judge a whole month so far (a resource provisioned minutes ago gets no pace alert, by design).
const db = createPool(
  env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/meterline',
  env.DATABASE_SCHEMA ? { schema: env.DATABASE_SCHEMA } : {},
);

// A month of usage so far, in seconds: events spread from the 1st (UTC) until now.
const usage = await UsageClient.connect({
  brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  registryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  source: 'demo-provider',
});
const limits: Record<string, number> = { hobby: 10_000, basic: 100_000, pro: 1_000_000 };
const now = Date.now();
const monthStart = Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1);
// Two months of history before this one (the plan advisor's material), the demo's resources included.
const history = await seedDemoHistory(db, resources, now);
say(
  history.hours > 0
    ? `wrote ${history.hours} ledger hours of history for ${history.customers + resources.length} customers`
    : 'the history of earlier months is there from an earlier run',
);

// The provider's console: a super admin, and a partner employee whom Acme (a client) let in.
const consolePassword = env.DEMO_CONSOLE_PASSWORD ?? 'demo-console-password';
const team = new TeamAccess(db);
const setup = { accountId: null, email: 'demo', ip: null };
for (const [email, name] of [
  ['admin@provider.test', 'Ada Admin'],
  ['pat@northwind.test', 'Pat of Northwind'],
] as const) {
  if (!(await team.accountByEmail(email)))
    await team.createAccount({ email, name, password: consolePassword }, setup);
}
await team.addCompanyUser(
  { email: 'admin@provider.test', permissions: ALL_PERMISSIONS, superAdmin: true },
  setup,
);
await team.addPartnerEmployee({ email: 'pat@northwind.test', partner: 'Northwind' }, setup);
// A client is known once the api's Platform API worker has read the app's owner: wait for it a little.
let acme: { id: string; name: string } | undefined;
for (let i = 0; i < 40 && !acme; i++) {
  acme = (await new ResourceStore(db).clients({ all: true })).find((c) => c.name === 'ada@acme.test');
  if (!acme) await new Promise((r) => setTimeout(r, 250));
}
if (acme) {
  await team.assign({ email: 'pat@northwind.test', partner: 'Northwind', clients: [acme] }, setup);
  await team.grant(acme.id, 'pat@northwind.test', 'ada@acme.test');
}
await db.end();
const STEPS = 200;
for (const r of resources) {
  const total = Math.round(limits[r.plan]! * r.apiShare);
  for (let i = 0; i < STEPS; i++) {
    const timestamp = monthStart + Math.floor(((now - monthStart - 60_000) * (i + 1)) / STEPS);
    void usage.emit({
      resourceId: r.id,
      metric: 'api_calls',
      quantity: Math.round(total / STEPS),
      timestamp,
    });
  }
  void usage.emit({ resourceId: r.id, metric: 'storage_gb', quantity: r.storage, timestamp: now - 30_000 });
}
await usage.close();
say(`emitted ${(STEPS + 1) * resources.length} usage events for this month`);
await new Promise((r) => setTimeout(r, 4000));

// The basic customer used 93% of its API calls: moving down to hobby does not fit.
const busy = resources.find((r) => r.plan === 'basic')!;
const refused = await fetch(`${apiUrl}/heroku/resources/${busy.id}`, {
  method: 'PUT',
  headers: { authorization: basicAuthHeader(addon.id, addon.password), 'content-type': 'application/json' },
  body: JSON.stringify({ plan: 'hobby', uuid: busy.id }),
});
say(`\ndowngrade ${busy.app} basic -> hobby: HTTP ${refused.status}`);
say(`  ${JSON.stringify(await refused.json().catch(() => ({})))}`);

// Fresh SSO forms on demand, as Heroku's dashboard posts them (a timestamp is only good for minutes).
createServer((req, res) => {
  const id = /^\/sso\/([0-9a-f-]{36})$/.exec(req.url ?? '')?.[1];
  const r = resources.find((x) => x.id === id);
  if (!r) {
    res.writeHead(404).end('unknown resource');
    return;
  }
  const fields = ssoLoginFields({ resourceId: r.id, salt, email: r.owner, userId: randomUUID(), app: r.app });
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`)
    .join('');
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(
    `<!doctype html><form method="post" action="${apiUrl}/sso/login">${inputs}</form><script>document.forms[0].submit()</script>`,
  );
}).listen(SSO_PORT, '127.0.0.1');

say('\nMeterline is running. Where to look:');
for (const r of resources)
  say(`  dashboard of ${r.app.padEnd(16)} (${r.plan}): http://127.0.0.1:${SSO_PORT}/sso/${r.id}`);
say(`  provider console:                ${apiUrl}/console`);
say(
  `    as admin@provider.test (every client) or pat@northwind.test (Acme only), password ${consolePassword}`,
);
say(`  live alerts, flags and DLQ:      ${apiUrl}/console/live (moves as the demo provider emits, below)`);
say(`  plan advisor (back-test a catalog): ${apiUrl}/console/advisor, or`);
say('    pnpm backtest --catalog docs/examples/plans-proposed.yaml');
say(`  emails sent to customers:        ${env.MAILDEV_URL ?? 'http://127.0.0.1:1080'}`);
say(
  `  usage JSON:                      curl -H 'Authorization: Bearer ${apiToken}' ${apiUrl}/api/v1/resources/${busy.id}/usage`,
);
say('  alerts as they are published:    pnpm tail usage.alerts.v1 --from-beginning');
say(`  pipeline health:                 ${apiUrl}/console/health`);
say(
  `  metrics:                         http://127.0.0.1:${API_OPS_PORT}/metrics (api), :9101 (ingestor), :9102 (evaluator), :9103 (notifier)`,
);
say('    Prometheus and Grafana: infra/observability/prometheus.yml, grafana-dashboard.json');
say('\nCtrl-C stops the services and the fake Platform API (pnpm infra:down stops the infrastructure).');

// The demo provider keeps going, so the live page moves: Initech's reports climb from 12% of pro's API
// calls through every tier (2% every 2 s), and every 14 s an event with a negative quantity goes to
// the DLQ (quantity-out-of-range).
const busier = resources.find((r) => r.plan === 'pro')!;
const trickle = await UsageClient.connect({
  brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(','),
  registryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  source: 'demo-provider',
});
const raw = createKafka(
  { brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(','), clientId: 'demo-provider' },
  createLogger('demo', { level: 'warn' }),
).producer();
await raw.connect();
let used = limits.pro! * busier.apiShare;
let tick = 0;
setInterval(() => {
  tick += 1;
  if (used < limits.pro! * 1.6) {
    used += limits.pro! * 0.02;
    void trickle.emit({ resourceId: busier.id, metric: 'api_calls', quantity: limits.pro! * 0.02 });
  }
  if (tick % 7 === 0)
    void raw.send({
      topic: env.TOPIC_USAGE_EVENTS ?? 'usage.events.v1',
      messages: [
        {
          key: busier.id,
          value: JSON.stringify({
            id: randomUUID(),
            resourceId: busier.id,
            metric: 'api_calls',
            quantity: -1,
            timestamp: Date.now(),
          }),
        },
      ],
    });
}, 2000).unref();
