import { describe, expect, it } from 'vitest';
import { findPlan, parsePlanCatalog } from './catalog.ts';
import {
  computePlanFlag,
  type DowngradeInput,
  downgradeCheck,
  formatDate,
  formatQuantity,
} from './downgrade.ts';
import { periodOf } from './period.ts';
import { DAY } from './time.ts';

const catalog = parsePlanCatalog(`
metrics:
  api_calls: { label: API calls, unit: calls }
  storage_gb: { label: Storage, unit: GB }
plans:
  - { name: tiny, rank: 0, limits: { api_calls: 1000, storage_gb: 1 }, thresholds: [100], overLimit: x }
  - { name: basic, rank: 1, limits: { api_calls: 100000, storage_gb: 10 }, thresholds: [100], overLimit: x }
  - { name: pro, rank: 2, limits: { api_calls: 1000000, storage_gb: 100, webhooks: 5000 }, thresholds: [100], overLimit: x }
  - { name: hidden-pro, rank: 3, hidden: true, displayName: Pro Plus, limits: { api_calls: 2000000 }, thresholds: [100], overLimit: x }
`);
const plan = (name: string) => findPlan(catalog, name)!;
const nov = periodOf(Date.parse('2026-11-10T00:00:00Z'));

function check(overrides: Partial<DowngradeInput>) {
  return downgradeCheck({
    catalog,
    currentPlan: plan('pro'),
    targetPlan: plan('basic'),
    usage: {},
    period: nov,
    now: nov.start + 10 * DAY,
    ...overrides,
  });
}

describe('formatQuantity and formatDate', () => {
  it('formats for people', () => {
    expect(formatQuantity(150_000)).toBe('150,000');
    expect(formatQuantity(1_234_567.891)).toBe('1,234,567.89');
    expect(formatQuantity(12.5)).toBe('12.5');
    expect(formatQuantity(0)).toBe('0');
    expect(formatQuantity(0.004)).toBe('0.004');
    expect(formatDate(nov.end)).toBe('December 1, 2026');
    expect(formatDate(Date.parse('2027-01-01T00:00:00Z'))).toBe('January 1, 2027');
  });
});

describe('downgradeCheck', () => {
  it('always allows a move up or sideways', () => {
    const up = check({ currentPlan: plan('basic'), targetPlan: plan('pro'), usage: { api_calls: 1e12 } });
    expect(up).toEqual({
      allowed: true,
      exceeded: [],
      message: 'You can move to the pro plan.',
      allowedFrom: null,
    });
    expect(check({ targetPlan: plan('pro'), usage: { api_calls: 1e12 } }).allowed).toBe(true);
  });

  it('refuses when usage is already above the target limit, naming metric, usage, limit and date', () => {
    const decision = check({ usage: { api_calls: 150_000 }, now: nov.start + 25 * DAY });
    expect(decision.allowed).toBe(false);
    expect(decision.allowedFrom).toBe(nov.end);
    expect(decision.exceeded).toEqual([
      { metric: 'api_calls', used: 150_000, targetLimit: 100_000, projected: 180_000 },
    ]);
    expect(decision.message).toBe(
      "You can't move to the basic plan yet: you have used 150,000 API calls this month and basic includes " +
        '100,000. You can downgrade from December 1, 2026, when your monthly usage resets.',
    );
  });

  it('allows usage exactly at the target limit before the projection counts', () => {
    const decision = check({ usage: { api_calls: 100_000 }, now: nov.start + 14 * DAY });
    expect(decision.allowed).toBe(true);
    expect(decision.allowedFrom).toBeNull();
    expect(decision.message).toBe('You can move to the basic plan: your usage this month fits its limits.');
    expect(check({ usage: { api_calls: 100_000.5 }, now: nov.start + 14 * DAY }).allowed).toBe(false);
  });

  it('counts the projection only once half the period has passed', () => {
    const usage = { api_calls: 60_000 }; // on pace for 120,000 at mid-month
    expect(check({ usage, now: nov.start + 15 * DAY - 1 }).allowed).toBe(true);
    const decision = check({ usage, now: nov.start + 15 * DAY });
    expect(decision.allowed).toBe(false);
    expect(decision.exceeded[0]).toMatchObject({ metric: 'api_calls', used: 60_000, projected: 120_000 });
    expect(decision.message).toBe(
      "You can't move to the basic plan yet: you have used 60,000 API calls this month and at this pace will " +
        'reach about 120,000 by the end of the month, while basic includes 100,000. You can downgrade from ' +
        'December 1, 2026, when your monthly usage resets.',
    );
  });

  it('applies the knobs', () => {
    const usage = { api_calls: 60_000 };
    const now = nov.start + 15 * DAY;
    expect(check({ usage, now, rule: { projectionMargin: 1.25 } }).allowed).toBe(true);
    expect(
      check({ usage, now: nov.start + 5 * DAY, rule: { projectionMinElapsedFraction: 0 } }).allowed,
    ).toBe(false);
    expect(check({ usage, now, rule: { projectionMinElapsedFraction: 1.01 } }).allowed).toBe(true);
  });

  it('measures the elapsed fraction from a mid-period provisioning', () => {
    const provisioned = nov.start + 20 * DAY;
    const usage = { api_calls: 60_000 };
    // 4 of 10 active days: the projection (150,000) does not count yet.
    expect(check({ usage, activeFrom: provisioned, now: provisioned + 4 * DAY }).allowed).toBe(true);
    const decision = check({ usage, activeFrom: provisioned, now: provisioned + 5 * DAY });
    expect(decision.allowed).toBe(false);
    expect(decision.exceeded[0]?.projected).toBe(120_000);
  });

  it('names each metric over the limit, with its unit', () => {
    const decision = check({ usage: { api_calls: 150_000, storage_gb: 12.5 }, now: nov.start + 2 * DAY });
    expect(decision.exceeded.map((e) => e.metric)).toEqual(['api_calls', 'storage_gb']);
    expect(decision.message).toBe(
      "You can't move to the basic plan yet: you have used 150,000 API calls this month and basic includes " +
        '100,000; you have used 12.5 GB of storage this month and basic includes 10 GB. You can downgrade ' +
        'from December 1, 2026, when your monthly usage resets.',
    );
  });

  it('ignores metrics the target plan does not limit, and treats missing usage as 0', () => {
    expect(check({ usage: { webhooks: 1e9 } }).allowed).toBe(true);
    expect(check({ usage: {}, now: nov.end - 1 }).allowed).toBe(true);
  });

  it('says "more than" when the usage would print the same as the limit', () => {
    const decision = check({ usage: { api_calls: 100_000.001 }, now: nov.start + 2 * DAY });
    expect(decision.message).toContain('you have used more than 100,000 API calls this month');
  });

  it('uses the display name and the fallback label of unlabelled metrics', () => {
    const decision = check({
      currentPlan: plan('hidden-pro'),
      targetPlan: plan('pro'),
      usage: { webhooks: 6000 },
    });
    expect(decision.message).toContain('you have used 6,000 webhooks this month and pro includes 5,000');
    const toHidden = downgradeCheck({
      catalog,
      currentPlan: { ...plan('hidden-pro'), rank: 9 },
      targetPlan: plan('hidden-pro'),
      usage: { api_calls: 3_000_000 },
      period: nov,
      now: nov.start,
    });
    expect(toHidden.message).toContain("You can't move to the Pro Plus plan yet");
  });

  it('reads the date of the next period in 28-day February and at the year end', () => {
    const feb = periodOf(Date.parse('2026-02-20T00:00:00Z'));
    expect(check({ period: feb, now: feb.start, usage: { api_calls: 200_000 } }).message).toContain(
      'You can downgrade from March 1, 2026,',
    );
    const dec = periodOf(Date.parse('2026-12-20T00:00:00Z'));
    expect(check({ period: dec, now: dec.start, usage: { api_calls: 200_000 } }).allowedFrom).toBe(
      Date.parse('2027-01-01T00:00:00Z'),
    );
  });
});

describe('computePlanFlag', () => {
  const flag = (current: string, usage: Record<string, number>, now = nov.start + 2 * DAY) =>
    computePlanFlag({ catalog, currentPlan: plan(current), usage, period: nov, now });

  it('is not blocked when every lower plan fits', () => {
    expect(flag('pro', { api_calls: 500 })).toEqual({
      downgradeBlocked: false,
      blockedPlans: [],
      reason: '',
      periodEnd: nov.end,
    });
    expect(flag('tiny', { api_calls: 1e9 }).downgradeBlocked).toBe(false);
  });

  it('blocks only the lower plans the usage does not fit', () => {
    const state = flag('pro', { api_calls: 5000 });
    expect(state.blockedPlans).toEqual(['tiny']);
    expect(state.reason).toContain("You can't move to the tiny plan yet: you have used 5,000 API calls");
  });

  it('lists blocked plans highest first and names each in the reason', () => {
    const state = flag('hidden-pro', { api_calls: 1_500_000 });
    expect(state.downgradeBlocked).toBe(true);
    expect(state.blockedPlans).toEqual(['pro', 'basic', 'tiny']);
    expect(state.reason).toMatch(/^You can't move to the pro plan yet: you have used 1,500,000 API calls/);
    expect(state.reason).toMatch(/You can't move to the basic or tiny plans before then either\.$/);
    expect(state.periodEnd).toBe(nov.end);
  });
});
