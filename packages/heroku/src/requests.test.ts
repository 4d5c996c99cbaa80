import { describe, expect, it } from 'vitest';
import { parsePlanChangeRequest, parseProvisionRequest } from './requests.ts';

const uuid = '7e5d8a3c-1f0b-4c1e-9d55-0a6f2b9e4c11';

describe('parseProvisionRequest', () => {
  it('parses the full v3 body and ignores unknown fields', () => {
    const parsed = parseProvisionRequest({
      uuid,
      name: 'acme-inc-primary-meter',
      plan: 'basic',
      region: 'amazon-web-services::us-east-1',
      callback_url: `https://api.heroku.com/addons/${uuid}`,
      options: { alert_email: 'ops@example.com' },
      oauth_grant: { code: 'grant-code', expires_at: '2026-03-03T18:01:31-0800', type: 'authorization_code' },
      log_input_url: 'https://token:t.XXXX@1.us.logplex.io/logs',
      log_drain_token: 'd.XXXX',
      something_new: { nested: true },
    });
    expect(parsed).toEqual({
      ok: true,
      value: {
        uuid,
        plan: 'basic',
        region: 'amazon-web-services::us-east-1',
        name: 'acme-inc-primary-meter',
        callbackUrl: `https://api.heroku.com/addons/${uuid}`,
        options: { alert_email: 'ops@example.com' },
        oauthGrant: { code: 'grant-code', expiresAt: '2026-03-03T18:01:31-0800', type: 'authorization_code' },
        logInputUrl: 'https://token:t.XXXX@1.us.logplex.io/logs',
        logDrainToken: 'd.XXXX',
      },
    });
  });

  it('fills defaults for a minimal body', () => {
    expect(parseProvisionRequest({ uuid, plan: 'basic', oauth_grant: null })).toEqual({
      ok: true,
      value: {
        uuid,
        plan: 'basic',
        region: null,
        name: null,
        callbackUrl: null,
        options: {},
        oauthGrant: null,
        logInputUrl: null,
        logDrainToken: null,
      },
    });
  });

  it.each([
    [null, 'the request body must be a JSON object'],
    [[], 'the request body must be a JSON object'],
    [{ plan: 'basic' }, 'uuid must be a non-empty string'],
    [{ uuid: 'abc', plan: 'basic' }, 'uuid must be a UUID such as 7e5d8a3c-1f0b-4c1e-9d55-0a6f2b9e4c11'],
    [{ uuid }, 'plan must be a non-empty string'],
    [{ uuid, plan: '  ' }, 'plan must be a non-empty string'],
    [{ uuid, plan: 7 }, 'plan must be a non-empty string'],
    [{ uuid, plan: 'basic', region: 5 }, 'region must be a string when given'],
    [{ uuid, plan: 'basic', options: 'x' }, 'options must be an object of custom options when given'],
    [{ uuid, plan: 'basic', oauth_grant: 'x' }, 'oauth_grant must be an object with a code, or null'],
    [
      { uuid, plan: 'basic', oauth_grant: { expires_at: 'x' } },
      'oauth_grant.code must be a non-empty string',
    ],
  ])('refuses %j with a readable message', (body, message) => {
    expect(parseProvisionRequest(body)).toEqual({ ok: false, message });
  });
});

describe('parsePlanChangeRequest', () => {
  it('relies on plan and keeps the optional ids', () => {
    expect(
      parsePlanChangeRequest({ plan: 'starter', uuid, heroku_id: 'app123@kensa.heroku.com', x: 1 }),
    ).toEqual({
      ok: true,
      value: { plan: 'starter', uuid, herokuId: 'app123@kensa.heroku.com' },
    });
    expect(parsePlanChangeRequest({ plan: 'starter', heroku_uuid: uuid })).toEqual({
      ok: true,
      value: { plan: 'starter', uuid, herokuId: null },
    });
  });

  it('refuses a body without a plan', () => {
    expect(parsePlanChangeRequest({ uuid })).toEqual({
      ok: false,
      message: 'plan must be a non-empty string',
    });
    expect(parsePlanChangeRequest('plan=basic')).toEqual({
      ok: false,
      message: 'the request body must be a JSON object',
    });
  });
});
