/** Shared pieces of the api's integration tests (not used by the service itself). */
import { randomUUID } from 'node:crypto';
import { basicAuthHeader } from '@meterline/heroku';
import { CounterStore, ResourceEvents } from '@meterline/metering';
import { createLogger } from '@meterline/runtime';
import type { TestWorld } from '@meterline/test/support';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { readApiConfig } from './config.ts';
import { type RunningApi, startApi } from './wire.ts';

export const ADDON_ID = 'meterline';
export const ADDON_PASSWORD = 'partner-secret';
/** The password the console tests' people sign up with. */
export const CONSOLE_PASSWORD = 'correct horse battery';
export const SSO_SALT = 'sso-salt-for-tests';
export const API_TOKEN = 'provider-token-for-tests';
export const OAUTH_SECRET = 'oauth-client-secret';
export const PLANS_FILE = new URL('../../../plans.example.yaml', import.meta.url).pathname;

export const log = createLogger('test', { level: process.env.LOG_LEVEL ?? 'warn' });

/** A clock the test moves by hand. */
export function testClock(start: number) {
  let current = start;
  return {
    now: () => current,
    set(ts: number) {
      current = ts;
    },
  };
}

export async function startTestApi(
  world: TestWorld,
  env: Record<string, string>,
  now: () => number,
): Promise<RunningApi> {
  const config = readApiConfig({
    ...world.env,
    PORT: '0',
    API_OPS_PORT: '0',
    HOST: '127.0.0.1',
    API_TOKEN,
    HEROKU_ADDON_ID: ADDON_ID,
    HEROKU_ADDON_PASSWORD: ADDON_PASSWORD,
    HEROKU_SSO_SALT: SSO_SALT,
    HEROKU_OAUTH_CLIENT_SECRET: OAUTH_SECRET,
    TOKEN_ENCRYPTION_KEY: 'token-encryption-key-for-tests',
    PLANS_FILE,
    PLATFORM_POLL_MS: '50',
    ...env,
  });
  return startApi(config, log, { now });
}

export interface HerokuCall {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/** Calls the Partner API as Heroku does (Basic auth with the manifest's id and password unless given). */
export async function heroku(
  api: RunningApi,
  method: string,
  path: string,
  body?: unknown,
  opts: { auth?: string | null; rawBody?: string } = {},
): Promise<HerokuCall> {
  const headers: Record<string, string> = { accept: 'application/vnd.heroku-addons+json; version=3' };
  const auth = opts.auth === undefined ? basicAuthHeader(ADDON_ID, ADDON_PASSWORD) : opts.auth;
  if (auth !== null) headers.authorization = auth;
  let payload: string | undefined;
  if (opts.rawBody !== undefined) payload = opts.rawBody;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${api.url}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    parsed = {};
  }
  return { status: res.status, body: parsed, text };
}

/** A provision request body as Heroku sends it. */
export function provisionBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  const uuid = randomUUID();
  return {
    uuid,
    name: `acme-${uuid.slice(0, 8)}`,
    plan: 'basic',
    region: 'amazon-web-services::us-east-1',
    callback_url: `https://api.heroku.com/addons/${uuid}`,
    options: {},
    oauth_grant: null,
    log_drain_token: 'd.unused',
    ...over,
  };
}

/** Writes usage into the real Redis counters, as the ingestor does. */
export function usageSeeder(world: TestWorld) {
  const counters = new CounterStore(world.redis, { dedupeWindowSeconds: 900, periodRetentionDays: 62 });
  let offset = 0;
  let live: Promise<void> | null = null;
  return {
    counters,
    async add(resourceId: string, metric: string, quantity: number, timestamp: number, now = timestamp) {
      offset += 1;
      const events = new ResourceEvents();
      events.push(randomUUID(), String(offset), metric, quantity, timestamp);
      // The counters' generation markers (ADR 0011), as the ingestor's first start sets them.
      live ??= counters.setGeneration(1);
      await live;
      await counters.count(resourceId, 'test-seed:0', events, now);
    },
  };
}

/** Debian's Chromium, headless, without the background traffic a test has no use for. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A browser context that records every Content-Security-Policy violation its pages report: the
 * `securitypolicyviolation` event (through a binding, which outlives navigations) and Chromium's console
 * errors about the policy. A page that works under the policy leaves `violations` empty. */
export async function watchedContext(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; violations: string[] }> {
  const context = await browser.newContext(options);
  const violations: string[] = [];
  context.on('console', (m) => {
    if (/content security policy/i.test(m.text())) violations.push(m.text());
  });
  await context.exposeFunction('__meterlineCspViolation', (v: string) => void violations.push(v));
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) =>
      window.__meterlineCspViolation(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));`,
  });
  return { context, violations };
}

/** Signs `email` in to the console at `apiUrl` through the sign-in form, as a person would. */
export async function signInToConsole(page: Page, apiUrl: string, email: string): Promise<void> {
  await page.goto(`${apiUrl}/console/login`);
  await page.fill('#email', email);
  await page.fill('#password', CONSOLE_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL('**/console/clients');
}
