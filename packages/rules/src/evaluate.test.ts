import { describe, expect, it } from 'vitest';
import type { Plan } from './catalog.ts';
import { type AlertDecision, evaluateUsage, type UsageEvaluation } from './evaluate.ts';
import { periodOf } from './period.ts';
import { DAY, HOUR } from './time.ts';
import { alertId } from './usage.ts';

const basic: Plan = {
  name: 'basic',
  rank: 1,
  limits: { api_calls: 100_000, storage_gb: 10 },
  thresholds: [50, 75, 90, 100, 150],
  pace: [
    { usedPercent: 50, withinDays: 7 },
    { usedPercent: 80, withinDays: 14 },
  ],
  overLimit: 'Refused.',
  hidden: false,
  displayName: 'Basic',
};
const nov = periodOf(Date.parse('2026-11-10T00:00:00Z'));
const never = () => false;

function evaluate(overrides: Partial<UsageEvaluation>): AlertDecision[] {
  return evaluateUsage({
    resourceId: 'res-1',
    plan: basic,
    metric: 'api_calls',
    used: 0,
    period: nov,
    now: nov.start + 20 * DAY,
    alreadyAlerted: never,
    ...overrides,
  });
}
const summary = (decisions: AlertDecision[]) => decisions.map((d) => `${d.kind}:${d.threshold}`);

describe('evaluateUsage: thresholds', () => {
  it('raises every crossed tier not yet alerted, lowest first', () => {
    expect(summary(evaluate({ used: 49_999 }))).toEqual([]);
    expect(summary(evaluate({ used: 50_000 }))).toEqual(['THRESHOLD:50']);
    expect(summary(evaluate({ used: 100_000 }))).toEqual([
      'THRESHOLD:50',
      'THRESHOLD:75',
      'THRESHOLD:90',
      'THRESHOLD:100',
    ]);
    const alerted = new Set(['THRESHOLD:50', 'THRESHOLD:75']);
    expect(summary(evaluate({ used: 160_000, alreadyAlerted: (k, t) => alerted.has(`${k}:${t}`) }))).toEqual([
      'THRESHOLD:90',
      'THRESHOLD:100',
      'THRESHOLD:150',
    ]);
  });

  it('fills in the alert fields', () => {
    const now = nov.start + 15 * DAY;
    const [decision] = evaluate({ used: 90_000, now, alreadyAlerted: (_k, t) => t < 90 });
    expect(decision).toEqual({
      id: alertId('res-1', 'api_calls', '2026-11', 'THRESHOLD', 90),
      kind: 'THRESHOLD',
      threshold: 90,
      severity: 'WARNING',
      used: 90_000,
      limit: 100_000,
      percent: 90,
      projected: 180_000,
      expectedDailyAverage: 100_000 / 30,
    });
  });

  it('yields nothing for a metric the plan does not limit', () => {
    expect(evaluate({ metric: 'webhooks', used: 1e12, now: nov.start + 2 * DAY })).toEqual([]);
  });

  it('raises threshold alerts in the first hours of the period', () => {
    expect(summary(evaluate({ used: 100_000, now: nov.start + HOUR }))).toContain('THRESHOLD:100');
    expect(evaluate({ used: 100_000, now: nov.start + HOUR })[0]?.projected).toBeNull();
  });
});

describe('evaluateUsage: pace', () => {
  it('raises a pace alert when the share is used within the window, after thresholds', () => {
    const now = nov.start + 3 * DAY;
    expect(summary(evaluate({ used: 50_000, now }))).toEqual(['THRESHOLD:50', 'PACE:50']);
    expect(evaluate({ used: 50_000, now })[1]?.severity).toBe('WARNING');
    expect(summary(evaluate({ used: 80_000, now, alreadyAlerted: (k) => k === 'THRESHOLD' }))).toEqual([
      'PACE:50',
      'PACE:80',
    ]);
  });

  it('closes the window exactly withinDays after the period start', () => {
    const used = 50_000;
    const alreadyAlerted = (kind: string) => kind === 'THRESHOLD';
    expect(summary(evaluate({ used, alreadyAlerted, now: nov.start + 7 * DAY - 1 }))).toEqual(['PACE:50']);
    expect(summary(evaluate({ used, alreadyAlerted, now: nov.start + 7 * DAY }))).toEqual([]);
    expect(summary(evaluate({ used: 80_000, alreadyAlerted, now: nov.start + 7 * DAY }))).toEqual([
      'PACE:80',
    ]);
    expect(summary(evaluate({ used: 80_000, alreadyAlerted, now: nov.start + 14 * DAY }))).toEqual([]);
  });

  it('does not repeat a pace alert already raised', () => {
    const now = nov.start + 3 * DAY;
    expect(summary(evaluate({ used: 60_000, now, alreadyAlerted: () => true }))).toEqual([]);
  });

  it('stays quiet in the first 24 hours of the period', () => {
    const used = 60_000;
    expect(summary(evaluate({ used, now: nov.start + 23 * HOUR }))).toEqual(['THRESHOLD:50']);
    expect(summary(evaluate({ used, now: nov.start + 24 * HOUR }))).toEqual(['THRESHOLD:50', 'PACE:50']);
  });

  it('stays quiet in the first 24 hours after a mid-period provisioning', () => {
    const provisioned = nov.start + 2 * DAY;
    const used = 60_000;
    expect(summary(evaluate({ used, activeFrom: provisioned, now: provisioned + 12 * HOUR }))).toEqual([
      'THRESHOLD:50',
    ]);
    const decisions = evaluate({ used, activeFrom: provisioned, now: provisioned + DAY });
    expect(summary(decisions)).toEqual(['THRESHOLD:50', 'PACE:50']);
    // Projected from the provisioning time: 60k in 1 of 28 active days.
    expect(decisions[1]?.projected).toBe(1_680_000);
  });

  it('does not raise pace alerts for near-zero limits', () => {
    const tiny: Plan = { ...basic, limits: { api_calls: 9 } };
    expect(summary(evaluate({ plan: tiny, used: 9, now: nov.start + 2 * DAY }))).toEqual([
      'THRESHOLD:50',
      'THRESHOLD:75',
      'THRESHOLD:90',
      'THRESHOLD:100',
    ]);
    const atGuard: Plan = { ...basic, limits: { api_calls: 10 } };
    expect(summary(evaluate({ plan: atGuard, used: 5, now: nov.start + 2 * DAY }))).toEqual([
      'THRESHOLD:50',
      'PACE:50',
    ]);
  });

  it('takes custom guards', () => {
    const tiny: Plan = { ...basic, limits: { storage_gb: 0.5 } };
    const decisions = evaluate({
      plan: tiny,
      metric: 'storage_gb',
      used: 0.25,
      now: nov.start + 2 * HOUR,
      guards: { minElapsedHours: 1, minLimit: 0.1 },
    });
    expect(summary(decisions)).toEqual(['THRESHOLD:50', 'PACE:50']);
  });

  it('works in a 28-day February', () => {
    const feb = periodOf(Date.parse('2026-02-01T00:00:00Z'));
    const decisions = evaluate({ period: feb, used: 50_000, now: feb.start + 6 * DAY });
    expect(summary(decisions)).toEqual(['THRESHOLD:50', 'PACE:50']);
    expect(decisions[0]?.expectedDailyAverage).toBe(100_000 / 28);
    expect(decisions[0]?.projected).toBeCloseTo((50_000 * 28) / 6, 1);
    expect(decisions[0]?.id).toBe(alertId('res-1', 'api_calls', '2026-02', 'THRESHOLD', 50));
  });
});
