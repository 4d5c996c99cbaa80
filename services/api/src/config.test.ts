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
};

function problems(env: Record<string, string>): string[] {
  try {
    readApiConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => p.variable);
    throw err;
  }
  return [];
}

describe('readApiConfig', () => {
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
  });

  it('accepts the previous manifest password during a rotation', () => {
    expect(readApiConfig({ ...base, HEROKU_ADDON_PASSWORD_PREVIOUS: 'old' }).addonPasswords).toEqual([
      'p',
      'old',
    ]);
  });
});
