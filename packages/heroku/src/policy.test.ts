import { describe, expect, it } from 'vitest';
import {
  decideProvision,
  defaultProvisionPolicy,
  type ProvisionFacts,
  type ProvisionHistoryEntry,
  policyFromEnv,
} from './policy.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const now = Date.parse('2026-06-15T12:00:00Z');

function facts(over: Partial<ProvisionFacts> = {}): ProvisionFacts {
  return {
    plan: 'basic',
    planExists: true,
    planHidden: false,
    requesterMayInstallHidden: false,
    region: 'amazon-web-services::us-east-1',
    appId: 'app-1',
    ownerId: 'owner-1',
    history: [],
    now,
    policy: defaultProvisionPolicy,
    ...over,
  };
}

function cycle(n: number, over: Partial<ProvisionHistoryEntry> = {}): ProvisionHistoryEntry {
  const provisionedAt = now - n * DAY;
  return {
    resourceId: `res-${n}`,
    appId: 'app-1',
    ownerId: 'owner-1',
    provisionedAt,
    deprovisionedAt: provisionedAt + 12 * HOUR,
    maxUsedPercent: 10,
    ...over,
  };
}

describe('decideProvision', () => {
  it('allows a first provision', () => {
    expect(decideProvision(facts())).toEqual({ allowed: true });
  });

  it('refuses an unknown plan and a hidden plan, and lets company users install hidden plans', () => {
    expect(decideProvision(facts({ planExists: false, plan: 'gold' }))).toMatchObject({
      allowed: false,
      code: 'unknown_plan',
      message: expect.stringContaining('"gold"'),
    });
    expect(decideProvision(facts({ planHidden: true }))).toMatchObject({
      allowed: false,
      code: 'hidden_plan',
      message: expect.stringContaining('contact support'),
    });
    expect(decideProvision(facts({ planHidden: true, requesterMayInstallHidden: true }))).toEqual({
      allowed: true,
    });
  });

  it('refuses an unsupported region, matching the full or the short region name', () => {
    const policy = {
      ...defaultProvisionPolicy,
      supportedRegions: ['us-east-1', 'amazon-web-services::eu-west-1'],
    };
    expect(decideProvision(facts({ policy }))).toEqual({ allowed: true });
    expect(decideProvision(facts({ policy, region: 'amazon-web-services::eu-west-1' }))).toEqual({
      allowed: true,
    });
    const refused = decideProvision(facts({ policy, region: 'amazon-web-services::ap-northeast-1' }));
    expect(refused).toMatchObject({ allowed: false, code: 'region' });
    expect(refused).toMatchObject({
      message: expect.stringContaining('amazon-web-services::ap-northeast-1'),
    });
    expect(decideProvision(facts({ policy, region: null }))).toEqual({ allowed: true });
  });

  it('allows N churn cycles and refuses the N+1th, saying when it lifts', () => {
    const three = [cycle(1), cycle(2), cycle(3)];
    expect(decideProvision(facts({ history: three }))).toEqual({ allowed: true });
    const four = [...three, cycle(4)];
    const refused = decideProvision(facts({ history: four }));
    expect(refused).toMatchObject({ allowed: false, code: 'churn' });
    // The oldest cycle (4 days ago) leaves the 7-day window 3 days from now.
    const liftsAt = new Date(now - 4 * DAY + 7 * DAY).toISOString();
    expect(refused).toMatchObject({ message: expect.stringContaining(liftsAt) });
    expect(refused).toMatchObject({ message: expect.stringContaining('4 times in the last 7 days') });
  });

  it('counts churn by owner across apps, and ignores cycles outside the window or still running', () => {
    const otherApps = [1, 2, 3, 4].map((n) => cycle(n, { appId: `app-${n + 10}` }));
    expect(decideProvision(facts({ history: otherApps }))).toMatchObject({ code: 'churn' });
    expect(decideProvision(facts({ history: otherApps, ownerId: 'owner-2', appId: 'app-new' }))).toEqual({
      allowed: true,
    });
    const old = [cycle(1), cycle(2), cycle(3), cycle(8)];
    expect(decideProvision(facts({ history: old }))).toEqual({ allowed: true });
    const running = [cycle(1), cycle(2), cycle(3), cycle(4, { deprovisionedAt: null })];
    expect(decideProvision(facts({ history: running }))).toEqual({ allowed: true });
  });

  it('does not match unknown app and owner ids to each other', () => {
    const anonymous = [1, 2, 3, 4].map((n) => cycle(n, { appId: null, ownerId: null }));
    expect(decideProvision(facts({ history: anonymous, appId: null, ownerId: null }))).toEqual({
      allowed: true,
    });
  });

  it('refuses an app whose earlier resource used over X% and was removed within H hours', () => {
    const abused = cycle(30, { maxUsedPercent: 95, deprovisionedAt: now - 30 * DAY + 3 * HOUR });
    const refused = decideProvision(facts({ history: [abused] }));
    expect(refused).toMatchObject({ allowed: false, code: 'abuse' });
    expect(refused).toMatchObject({
      message: expect.stringMatching(/95%.*3 hours.*contact support.*res-30/),
    });
  });

  it('does not call it abuse below X%, after H hours, on another app, or while still provisioned', () => {
    const base = { deprovisionedAt: now - 30 * DAY + 3 * HOUR };
    const cases: Partial<ProvisionHistoryEntry>[] = [
      { ...base, maxUsedPercent: 80 },
      { maxUsedPercent: 95, deprovisionedAt: now - 30 * DAY + 49 * HOUR },
      { ...base, maxUsedPercent: 95, appId: 'app-2' },
      { maxUsedPercent: 95, deprovisionedAt: null },
    ];
    for (const c of cases) {
      expect(decideProvision(facts({ history: [cycle(30, c)] }))).toEqual({ allowed: true });
    }
  });

  it('checks the plan before region, churn and abuse', () => {
    const policy = { ...defaultProvisionPolicy, supportedRegions: ['eu-west-1'] };
    const history = [1, 2, 3, 4].map((n) => cycle(n, { maxUsedPercent: 99 }));
    expect(decideProvision(facts({ policy, history, planExists: false }))).toMatchObject({
      code: 'unknown_plan',
    });
    expect(decideProvision(facts({ policy, history }))).toMatchObject({ code: 'region' });
    expect(decideProvision(facts({ history }))).toMatchObject({ code: 'churn' });
  });
});

describe('policyFromEnv', () => {
  it('uses the defaults when nothing is set', () => {
    expect(policyFromEnv({})).toEqual({
      maxChurn: 3,
      churnWindowDays: 7,
      abuseUsedPercent: 80,
      abuseWithinHours: 48,
      supportedRegions: null,
    });
    expect(policyFromEnv({ SUPPORTED_REGIONS: '*' }).supportedRegions).toBeNull();
  });

  it('reads every variable', () => {
    expect(
      policyFromEnv({
        PROVISION_MAX_CHURN: '5',
        PROVISION_CHURN_WINDOW_DAYS: '14',
        PROVISION_ABUSE_USED_PERCENT: '90.5',
        PROVISION_ABUSE_WITHIN_HOURS: '24',
        SUPPORTED_REGIONS: 'us-east-1, amazon-web-services::eu-west-1',
      }),
    ).toEqual({
      maxChurn: 5,
      churnWindowDays: 14,
      abuseUsedPercent: 90.5,
      abuseWithinHours: 24,
      supportedRegions: ['us-east-1', 'amazon-web-services::eu-west-1'],
    });
  });

  it.each([
    ['PROVISION_MAX_CHURN', 'three'],
    ['PROVISION_MAX_CHURN', '-1'],
    ['PROVISION_MAX_CHURN', '2.5'],
    ['PROVISION_CHURN_WINDOW_DAYS', '0'],
    ['PROVISION_ABUSE_USED_PERCENT', '80%'],
    ['PROVISION_ABUSE_WITHIN_HOURS', 'NaN'],
    ['SUPPORTED_REGIONS', 'us-east-1,,eu-west-1'],
  ])('throws naming %s when it is %j', (name, value) => {
    expect(() => policyFromEnv({ [name]: value })).toThrow(name);
  });
});
