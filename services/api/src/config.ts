import { readDowngradeRule } from '@meterline/catalog';
import { type DatabaseSettings, readDatabaseSettings } from '@meterline/db';
import { type ProvisionPolicy, policyFromEnv } from '@meterline/heroku';
import { type RedisSettings, readRedisSettings } from '@meterline/redis';
import type { DowngradeRule } from '@meterline/rules';
import { ConfigError, configReader } from '@meterline/runtime';

export type ProvisioningMode = 'sync' | 'async';

export interface ApiConfig extends DatabaseSettings, RedisSettings {
  port: number;
  host: string;
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
  /** Key that seals OAuth tokens and grant codes at rest (32 bytes after sha256). */
  tokenEncryptionKey: string;
  downgradeRule: DowngradeRule;
  provisionPolicy: ProvisionPolicy;
  /** Prefix of the config vars handed to the app (the manifest's config_vars_prefix). */
  configVarsPrefix: string;
  /** Public base URL of the api, for the config vars and links; optional. */
  publicUrl: string | undefined;
  sessionTtlMinutes: number;
  /** Console sessions end after this long, whatever happens (ADR 0014). */
  consoleSessionTtlMinutes: number;
  /** Force the Secure cookie flag; otherwise it is set when the request came over TLS. */
  cookieSecure: boolean | undefined;
  /** The access list is refreshed when older than this (Heroku: never more than 5 minutes stale). */
  accessMaxAgeSeconds: number;
  platformPollMs: number;
}

export function readApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  const c = configReader(env);
  const previousPassword = c.optionalString('HEROKU_ADDON_PASSWORD_PREVIOUS');
  const oauthClientSecret = c.string('HEROKU_OAUTH_CLIENT_SECRET', { secret: true });
  const cookieSecure = c.optionalString('COOKIE_SECURE');
  const config: ApiConfig = {
    port: c.int('PORT', { default: 8080, min: 0, max: 65535 }),
    host: c.string('HOST', { default: '0.0.0.0' }),
    apiToken: c.string('API_TOKEN', { secret: true }),
    addonId: c.string('HEROKU_ADDON_ID'),
    addonPasswords: [
      c.string('HEROKU_ADDON_PASSWORD', { secret: true }),
      ...(previousPassword ? [previousPassword] : []),
    ],
    ssoSalt: c.string('HEROKU_SSO_SALT', { secret: true }),
    oauthClientSecret,
    herokuApiUrl: c.url('HEROKU_API_URL', ['http', 'https'], { default: 'https://api.heroku.com' }),
    herokuIdUrl: c.url('HEROKU_ID_URL', ['http', 'https'], { default: 'https://id.heroku.com' }),
    provisioningMode: c.oneOf('PROVISIONING_MODE', ['sync', 'async'] as const, { default: 'async' }),
    ...readDatabaseSettings(c),
    ...readRedisSettings(c),
    plansFile: c.string('PLANS_FILE'),
    // Derived from the OAuth secret by default: one secret less to manage, at the price of re-provisioning
    // tokens if that secret is rotated (ADR 0006).
    tokenEncryptionKey: c.string('TOKEN_ENCRYPTION_KEY', {
      default: `oauth:${oauthClientSecret}`,
      secret: true,
    }),
    downgradeRule: readDowngradeRule(c),
    provisionPolicy: readPolicy(env),
    configVarsPrefix: c.string('CONFIG_VARS_PREFIX', { default: 'METERLINE' }),
    publicUrl: c.optionalString('PUBLIC_URL'),
    sessionTtlMinutes: c.int('SESSION_TTL_MINUTES', { default: 60, min: 1 }),
    consoleSessionTtlMinutes: c.int('CONSOLE_SESSION_TTL_MINUTES', { default: 60, min: 1, max: 720 }),
    cookieSecure: cookieSecure === undefined ? undefined : c.bool('COOKIE_SECURE'),
    accessMaxAgeSeconds: c.int('ACCESS_MAX_AGE_SECONDS', { default: 240, min: 5, max: 300 }),
    platformPollMs: c.int('PLATFORM_POLL_MS', { default: 500, min: 20 }),
  };
  if (!/^[A-Z][A-Z0-9_]*$/.test(config.configVarsPrefix)) {
    throw new ConfigError([
      { variable: 'CONFIG_VARS_PREFIX', problem: 'must be upper-case letters, digits and _' },
    ]);
  }
  c.done();
  return config;
}

function readPolicy(env: Record<string, string | undefined>): ProvisionPolicy {
  try {
    return policyFromEnv(env);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const variable = /^([A-Z_]+) /.exec(message)?.[1] ?? 'PROVISION_*';
    throw new ConfigError([{ variable, problem: message.replace(/^[A-Z_]+ /, '') }]);
  }
}
