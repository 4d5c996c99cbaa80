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
  it('reads the live feed settings only with KAFKA_BROKERS and SCHEMA_REGISTRY_URL, and names a bad one', () => {
    expect(readApiConfig(base).live).toBeNull();
    expect(readApiConfig({ ...base, KAFKA_BROKERS: '127.0.0.1:9092' }).live).toBeNull();
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
    expect(
      problems({ ...base, KAFKA_BROKERS: 'not a broker list', SCHEMA_REGISTRY_URL: 'not a url' }),
    ).toEqual(expect.arrayContaining(['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL']));
  });

  it('applies the documented defaults', () => {
    const c = readApiConfig(base);
    expect(c).toMatchObject({
      port: 8080,
      opsPort: 9100,
      pipelineKafka: null,
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
      'TRUST_PROXY: expected false or proxy addresses/CIDRs (comma-separated), got "maybe"',
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

  it('takes Kafka for pipeline health when KAFKA_BROKERS is set, and names a bad one', () => {
    expect(readApiConfig({ ...base, KAFKA_BROKERS: '127.0.0.1:19092', API_OPS_PORT: '0' })).toMatchObject({
      opsPort: 0,
      pipelineKafka: { kafkaBrokers: ['127.0.0.1:19092'], groupPrefix: 'meterline-' },
    });
    expect(messages({ ...base, KAFKA_BROKERS: 'not a broker list', API_OPS_PORT: '70000' })).toEqual([
      'API_OPS_PORT: expected an integer 0-65535, got 70000',
      'KAFKA_BROKERS: expected host:port[,host:port...], got "not a broker list"',
    ]);
  });

  it('trusts X-Forwarded-* only from the proxies TRUST_PROXY names', () => {
    const trust = (value: string) => readApiConfig({ ...base, TRUST_PROXY: value }).trustProxy;
    expect(readApiConfig(base).trustProxy).toBe(false);
    expect(trust('off')).toBe(false);
    expect(trust('0')).toBe(false);
    expect(trust('10.0.0.0/8, 127.0.0.1,::1, fd00::/8,loopback')).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
  });

  it('refuses TRUST_PROXY=true and hop counts (a client could pick its address) and bad entries', () => {
    const give = "give the proxies' addresses or CIDRs (comma-separated), e.g. 10.0.0.0/8";
    for (const value of ['true', 'YES', 'on'])
      expect(messages({ ...base, TRUST_PROXY: value })).toEqual([
        `TRUST_PROXY: trusting every proxy lets a client choose its own address (X-Forwarded-For); ${give}`,
      ]);
    for (const value of ['1', '2'])
      expect(messages({ ...base, TRUST_PROXY: value })).toEqual([
        `TRUST_PROXY: a hop count cannot tell a proxy from a client that reaches the api directly; ${give}`,
      ]);
    for (const [value, bad] of [
      ['10.0.0.0/33', '10.0.0.0/33'],
      ['127.0.0.1,10.0.0.300', '10.0.0.300'],
      ['fd00::/129', 'fd00::/129'],
      ['10.0.0.1/8/8', '10.0.0.1/8/8'],
      ['127.0.0.1,', ''],
      ['-1', '-1'],
      ['proxy.internal', 'proxy.internal'],
    ] as const)
      expect(messages({ ...base, TRUST_PROXY: value })).toEqual([
        `TRUST_PROXY: expected false or proxy addresses/CIDRs (comma-separated), got ${JSON.stringify(bad)}`,
      ]);
  });

  it('accepts the previous manifest password during a rotation', () => {
    expect(readApiConfig({ ...base, HEROKU_ADDON_PASSWORD_PREVIOUS: 'old' }).addonPasswords).toEqual([
      'p',
      'old',
    ]);
  });
});
