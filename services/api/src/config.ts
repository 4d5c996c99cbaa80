import { isIP } from 'node:net';
import { downgradeRuleEnv, paceGuardsEnv } from '@meterline/catalog';
import { type DatabaseSettings, databaseEnv } from '@meterline/db';
import { type ProvisionPolicy, policyFromEnv } from '@meterline/heroku';
import {
  type KafkaServiceSettings,
  kafkaEnv,
  type PipelineKafkaSettings,
  pipelineKafkaEnv,
} from '@meterline/kafka';
import { type RedisSettings, redisEnv } from '@meterline/redis';
import type { DowngradeRule, PaceGuards } from '@meterline/rules';
import { env, envSchema, readEnv } from '@meterline/runtime';

export type ProvisioningMode = 'sync' | 'async';

export interface ApiConfig extends DatabaseSettings, RedisSettings {
  port: number;
  host: string;
  /** API_OPS_PORT: /healthz, /readyz and /metrics, on loopback, apart from the public port (ADR 0018). */
  opsPort: number;
  apiToken: string;
  addonId: string;
  /** The manifest password, then the previous one while a rotation is under way. */
  addonPasswords: string[];
  ssoSalt: string;
  oauthClientSecret: string;
  herokuApiUrl: string;
  herokuIdUrl: string;
  provisioningMode: ProvisioningMode;
  plansFile: string;
  /** TOKEN_ENCRYPTION_KEY: seals OAuth tokens and grant codes at rest (32 bytes after sha256). */
  tokenEncryptionKey: string;
  downgradeRule: DowngradeRule;
  /** The evaluator's pace guards (PACE_MIN_*): the plan advisor's back-test judges as it does. */
  paceGuards: PaceGuards;
  provisionPolicy: ProvisionPolicy;
  /** KAFKA_BROKERS and the topic and group names, for the console's pipeline health; optional (ADR 0018). */
  pipelineKafka: PipelineKafkaSettings | null;
  /** Prefix of the config vars handed to the app (the manifest's config_vars_prefix). */
  configVarsPrefix: string;
  /** Public base URL of the api, for the config vars and links; optional. */
  publicUrl: string | undefined;
  /** Dashboard sessions end after this long, whatever happens (at most 12 hours). */
  sessionTtlMinutes: number;
  /** Console sessions end after this long, whatever happens (ADR 0014). */
  consoleSessionTtlMinutes: number;
  /** Force the Secure cookie flag; otherwise it is set when the request came over TLS. */
  cookieSecure: boolean | undefined;
  /** TRUST_PROXY: the operator's proxies, whose X-Forwarded-* are believed (`trustProxy`): none, or their
   * addresses/CIDRs. Never "every hop" (see `trustProxyOf`). */
  trustProxy: TrustProxy;
  /** The access list is refreshed when older than this (Heroku: never more than 5 minutes stale). */
  accessMaxAgeSeconds: number;
  platformPollMs: number;
  /** Partner API requests per minute per client (after its Basic auth) and per address (failed auth). */
  partnerRatePerMinute: number;
  /** Console sign-in attempts per 15 minutes per email and per address. */
  signInAttemptsPerEmail: number;
  signInAttemptsPerIp: number;
  /** The live page's topics (ADR 0019); null without KAFKA_BROKERS and SCHEMA_REGISTRY_URL: the page
   * says it is off. */
  live: KafkaServiceSettings | null;
}

/** The provision policy keeps its own parser (packages/heroku); its first problem joins the others. */
const policyEnv = envSchema(
  {
    SUPPORTED_REGIONS: env.optionalString(),
    PROVISION_MAX_CHURN: env.optionalString(),
    PROVISION_CHURN_WINDOW_DAYS: env.optionalString(),
    PROVISION_ABUSE_USED_PERCENT: env.optionalString(),
    PROVISION_ABUSE_WITHIN_HOURS: env.optionalString(),
  },
  (e, ctx): ProvisionPolicy => {
    try {
      return policyFromEnv(e);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const variable = /^([A-Z_]+) /.exec(message)?.[1] ?? 'PROVISION_*';
      ctx.addIssue({ code: 'custom', path: [variable], message: message.replace(/^[A-Z_]+ /, '') });
      return policyFromEnv({});
    }
  },
);

/** What Fastify's `trustProxy` gets: off, or the proxies' addresses. */
type TrustProxy = false | string[];

// proxy-addr's names for address ranges, accepted beside addresses and CIDRs.
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isProxyAddress(entry: string): boolean {
  if (RANGE_NAMES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

/** TRUST_PROXY: unset/false/off → X-Forwarded-* ignored; otherwise the comma-separated addresses or CIDRs
 * of the operator's proxies (or loopback, linklocal, uniquelocal): X-Forwarded-For is read from the right,
 * past those, and the first address that is not a trusted proxy is the client. `true` is refused: Fastify
 * would trust every hop and take the first entry, which the client writes itself, so the per-address
 * sign-in limits could be dodged by changing it on every attempt. A hop count is refused too: it cannot
 * tell the proxy from a client that reaches the api directly, and Fastify trusts nothing for one (ADR 0023). */
function trustProxyOf(text: string | undefined, report: (problem: string) => void): TrustProxy {
  if (text === undefined || /^(false|0|no|off)$/i.test(text)) return false;
  const problem = (message: string) => {
    report(message);
    return false as const;
  };
  const give = "give the proxies' addresses or CIDRs (comma-separated), e.g. 10.0.0.0/8";
  if (/^(true|yes|on)$/i.test(text))
    return problem(`trusting every proxy lets a client choose its own address (X-Forwarded-For); ${give}`);
  if (/^\d+$/.test(text))
    return problem(`a hop count cannot tell a proxy from a client that reaches the api directly; ${give}`);
  const entries = text.split(',').map((s) => s.trim());
  const bad = entries.find((entry) => !isProxyAddress(entry));
  if (bad !== undefined)
    return problem(`expected false or proxy addresses/CIDRs (comma-separated), got ${JSON.stringify(bad)}`);
  return entries;
}

const apiEnv = envSchema(
  {
    PORT: env.int({ default: 8080, min: 0, max: 65535 }),
    HOST: env.string({ default: '0.0.0.0' }),
    API_OPS_PORT: env.int({ default: 9100, min: 0, max: 65535 }),
    API_TOKEN: env.string(),
    HEROKU_ADDON_ID: env.string(),
    HEROKU_ADDON_PASSWORD: env.string(),
    HEROKU_ADDON_PASSWORD_PREVIOUS: env.optionalString(),
    HEROKU_SSO_SALT: env.string(),
    HEROKU_OAUTH_CLIENT_SECRET: env.string(),
    HEROKU_API_URL: env.url(['http', 'https'], { default: 'https://api.heroku.com' }),
    HEROKU_ID_URL: env.url(['http', 'https'], { default: 'https://id.heroku.com' }),
    PROVISIONING_MODE: env.oneOf(['sync', 'async'], { default: 'async' }),
    PLANS_FILE: env.string(),
    // Its own secret, not derived from the OAuth secret: rotating that one must not make the stored
    // tokens unreadable (ADR 0006).
    TOKEN_ENCRYPTION_KEY: env.string().refine((key) => key.length >= 16, {
      error: 'must be at least 16 characters (e.g. `openssl rand -base64 32`)',
    }),
    CONFIG_VARS_PREFIX: env.string({ default: 'METERLINE' }).refine((p) => /^[A-Z][A-Z0-9_]*$/.test(p), {
      error: (iss) => `must be upper-case letters, digits and _, got ${JSON.stringify(iss.input)}`,
    }),
    PUBLIC_URL: env.optionalString(),
    SESSION_TTL_MINUTES: env.int({ default: 60, min: 1, max: 720 }),
    CONSOLE_SESSION_TTL_MINUTES: env.int({ default: 60, min: 1, max: 720 }),
    COOKIE_SECURE: env.optionalBool(),
    TRUST_PROXY: env
      .optionalString()
      .transform((text, ctx) => trustProxyOf(text, (message) => ctx.addIssue({ code: 'custom', message }))),
    ACCESS_MAX_AGE_SECONDS: env.int({ default: 240, min: 5, max: 300 }),
    PLATFORM_POLL_MS: env.int({ default: 500, min: 20 }),
    PARTNER_API_RATE_PER_MINUTE: env.int({ default: 600, min: 1 }),
    SIGNIN_ATTEMPTS_PER_EMAIL: env.int({ default: 10, min: 1 }),
    SIGNIN_ATTEMPTS_PER_IP: env.int({ default: 50, min: 1 }),
  },
  (e) => ({
    port: e.PORT,
    host: e.HOST,
    opsPort: e.API_OPS_PORT,
    apiToken: e.API_TOKEN,
    addonId: e.HEROKU_ADDON_ID,
    addonPasswords: [
      e.HEROKU_ADDON_PASSWORD,
      ...(e.HEROKU_ADDON_PASSWORD_PREVIOUS ? [e.HEROKU_ADDON_PASSWORD_PREVIOUS] : []),
    ],
    ssoSalt: e.HEROKU_SSO_SALT,
    oauthClientSecret: e.HEROKU_OAUTH_CLIENT_SECRET,
    herokuApiUrl: e.HEROKU_API_URL,
    herokuIdUrl: e.HEROKU_ID_URL,
    provisioningMode: e.PROVISIONING_MODE,
    plansFile: e.PLANS_FILE,
    tokenEncryptionKey: e.TOKEN_ENCRYPTION_KEY,
    configVarsPrefix: e.CONFIG_VARS_PREFIX,
    publicUrl: e.PUBLIC_URL,
    sessionTtlMinutes: e.SESSION_TTL_MINUTES,
    consoleSessionTtlMinutes: e.CONSOLE_SESSION_TTL_MINUTES,
    cookieSecure: e.COOKIE_SECURE,
    trustProxy: e.TRUST_PROXY,
    accessMaxAgeSeconds: e.ACCESS_MAX_AGE_SECONDS,
    platformPollMs: e.PLATFORM_POLL_MS,
    partnerRatePerMinute: e.PARTNER_API_RATE_PER_MINUTE,
    signInAttemptsPerEmail: e.SIGNIN_ATTEMPTS_PER_EMAIL,
    signInAttemptsPerIp: e.SIGNIN_ATTEMPTS_PER_IP,
  }),
);

export function readApiConfig(source: Record<string, string | undefined> = process.env): ApiConfig {
  const c = readEnv(
    {
      api: apiEnv,
      database: databaseEnv,
      redis: redisEnv,
      downgradeRule: downgradeRuleEnv,
      paceGuards: paceGuardsEnv,
      provisionPolicy: policyEnv,
      pipelineKafka: pipelineKafkaEnv,
      // The live page decodes Avro: it needs the registry too; pipeline health alone does not.
      ...(source.KAFKA_BROKERS && source.SCHEMA_REGISTRY_URL ? { live: kafkaEnv('api-live') } : {}),
    },
    source,
  );
  return {
    ...c.api,
    ...c.database,
    ...c.redis,
    downgradeRule: c.downgradeRule,
    paceGuards: c.paceGuards,
    provisionPolicy: c.provisionPolicy,
    pipelineKafka: c.pipelineKafka,
    live: 'live' in c ? (c.live as KafkaServiceSettings) : null,
  };
}
