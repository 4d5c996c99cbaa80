import { ConfigError } from '@meterline/runtime';
import { describe, expect, it } from 'vitest';
import { readApiConfig } from './config.ts';

const base = {
  API_TOKEN: 't',
  HEROKU_ADDON_ID: 'meterline',
  HEROKU_ADDON_PASSWORD: 'p',
  HEROKU_SSO_SALT: 's',
  HEROKU_OAUTH_CLIENT_SECRET: 'o',
  DATABASE_URL: 'postgres://db/x',
  REDIS_URL: 'redis://r:6379',
  PLANS_FILE: 'plans.yaml',
  TOKEN_ENCRYPTION_KEY: 'a-key-of-its-own-for-tests',
};

function messages(env: Record<string, string>): string[] {
  try {
    readApiConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.variable}: ${p.problem}`);
    throw err;
  }
  return [];
}

const problems = (env: Record<string, string>) => messages(env).map((m) => m.split(':')[0]);

describe('readApiConfig', () => {
  it('reads the live feed settings only with KAFKA_BROKERS, and names a bad one', () => {
    expect(readApiConfig(base).live).toBeNull();
    const live = readApiConfig({
      ...base,
      KAFKA_BROKERS: '127.0.0.1:9092',
      SCHEMA_REGISTRY_URL: 'http://registry:8081',
      TOPIC_USAGE_ALERTS: 'alerts.x',
    }).live;
    expect(live).toMatchObject({
      kafkaBrokers: ['127.0.0.1:9092'],
      groupId: 'meterline-api-live',
      topics: { alerts: 'alerts.x', flags: 'plan.flags.v1', dlq: 'usage.events.dlq.v1' },
    });
    expect(problems({ ...base, KAFKA_BROKERS: 'not a broker list' })).toEqual(
      expect.arrayContaining(['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL']),
    );
  });

  it('applies the documented defaults', () => {
    const c = readApiConfig(base);
    expect(c).toMatchObject({
      port: 8080,
      provisioningMode: 'async',
      herokuApiUrl: 'https://api.heroku.com',
      herokuIdUrl: 'https://id.heroku.com',
      redisKeyPrefix: 'ml:',
      addonPasswords: ['p'],
      accessMaxAgeSeconds: 240,
      trustProxy: false,
      tokenEncryptionKey: 'a-key-of-its-own-for-tests',
      partnerRatePerMinute: 600,
      signInAttemptsPerEmail: 10,
      signInAttemptsPerIp: 50,
      downgradeRule: { projectionMinElapsedFraction: 0.5, projectionMargin: 1 },
    });
    expect(c.provisionPolicy.maxChurn).toBe(3);
  });

  it('names every missing or malformed variable', () => {
    expect(problems({})).toEqual(
      expect.arrayContaining([
        'API_TOKEN',
        'HEROKU_ADDON_ID',
        'HEROKU_SSO_SALT',
        'DATABASE_URL',
        'REDIS_URL',
        'PLANS_FILE',
      ]),
    );
    expect(problems({ ...base, PROVISIONING_MODE: 'later' })).toEqual(['PROVISIONING_MODE']);
    expect(problems({ ...base, HEROKU_API_URL: 'api.heroku.com' })).toEqual(['HEROKU_API_URL']);
    expect(problems({ ...base, PROVISION_MAX_CHURN: 'many' })).toEqual(['PROVISION_MAX_CHURN']);
    expect(problems({ ...base, ACCESS_MAX_AGE_SECONDS: '600' })).toEqual(['ACCESS_MAX_AGE_SECONDS']);
    expect(problems({ ...base, SIGNIN_ATTEMPTS_PER_EMAIL: '0' })).toEqual(['SIGNIN_ATTEMPTS_PER_EMAIL']);
    // A dashboard session lasts 12 hours at the most.
    expect(problems({ ...base, SESSION_TTL_MINUTES: '721' })).toEqual(['SESSION_TTL_MINUTES']);
  });

  it('says what is wrong with each variable, all at once', () => {
    expect(
      messages({
        ...base,
        PORT: 'abc',
        PROVISIONING_MODE: 'later',
        HEROKU_API_URL: 'ftp://api.heroku.com',
        CONFIG_VARS_PREFIX: 'meterline',
        TRUST_PROXY: 'maybe',
        PROVISION_MAX_CHURN: 'many',
        DOWNGRADE_PROJECTION_MIN_ELAPSED: '2',
        DATABASE_URL: 'mysql://secret@db/x',
      }),
    ).toEqual([
      'PORT: expected an integer 0-65535, got "abc"',
      'HEROKU_API_URL: must use http or https, got ftp',
      'PROVISIONING_MODE: expected one of sync, async, got "later"',
      'CONFIG_VARS_PREFIX: must be upper-case letters, digits and _, got "meterline"',
      'TRUST_PROXY: expected true or false, got "maybe"',
      'DATABASE_URL: must use postgres or postgresql, got mysql',
      'DOWNGRADE_PROJECTION_MIN_ELAPSED: expected a number 0-1, got 2',
      'PROVISION_MAX_CHURN: must be an integer at least 0, got "many"',
    ]);
  });

  it('needs a token encryption key of its own, never derived from the OAuth secret', () => {
    const { TOKEN_ENCRYPTION_KEY: _, ...withoutKey } = base;
    expect(messages(withoutKey)).toEqual(['TOKEN_ENCRYPTION_KEY: is required but not set']);
    expect(messages({ ...base, TOKEN_ENCRYPTION_KEY: 'short' })).toEqual([
      'TOKEN_ENCRYPTION_KEY: must be at least 16 characters (e.g. `openssl rand -base64 32`)',
    ]);
    expect(messages({ ...base, TOKEN_ENCRYPTION_KEY: 'short' }).join()).not.toContain('"short"');
  });

  it('trusts X-Forwarded-* only when TRUST_PROXY is set', () => {
    expect(readApiConfig(base).trustProxy).toBe(false);
    expect(readApiConfig({ ...base, TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(readApiConfig({ ...base, TRUST_PROXY: 'off' }).trustProxy).toBe(false);
  });

  it('accepts the previous manifest password during a rotation', () => {
    expect(readApiConfig({ ...base, HEROKU_ADDON_PASSWORD_PREVIOUS: 'old' }).addonPasswords).toEqual([
      'p',
      'old',
    ]);
  });
});
