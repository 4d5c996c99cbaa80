import { describe, expect, it } from 'vitest';
import { periodOf } from './period.ts';
import { DAY, HOUR } from './time.ts';
import {
  alertId,
  expectedDailyAverage,
  newlyCrossedTiers,
  percentOf,
  projectUsage,
  severityFor,
  tiersCrossed,
} from './usage.ts';

const TIERS = [50, 75, 90, 100, 150];
const nov = periodOf(Date.parse('2026-11-10T00:00:00Z')); // 30 days
const feb = periodOf(Date.parse('2026-02-10T00:00:00Z')); // 28 days

describe('percentOf', () => {
  it('rounds to 2 decimals', () => {
    expect(percentOf(900, 1000)).toBe(90);
    expect(percentOf(1, 3)).toBe(33.33);
    expect(percentOf(2, 3)).toBe(66.67);
    expect(percentOf(1500, 1000)).toBe(150);
    expect(percentOf(0, 1000)).toBe(0);
  });

  it('is 0 for a missing or zero limit rather than Infinity or NaN', () => {
    expect(percentOf(5, 0)).toBe(0);
    expect(percentOf(5, Number.NaN)).toBe(0);
    expect(percentOf(5, Number.POSITIVE_INFINITY)).toBe(0);
  });
});

describe('tiersCrossed', () => {
  it('counts the exact boundary as crossed', () => {
    expect(tiersCrossed(TIERS, 1000, 499)).toEqual([]);
    expect(tiersCrossed(TIERS, 1000, 500)).toEqual([50]);
    expect(tiersCrossed(TIERS, 1000, 999)).toEqual([50, 75, 90]);
    expect(tiersCrossed(TIERS, 1000, 1000)).toEqual([50, 75, 90, 100]);
  });

  it('crosses tiers over 100%', () => {
    expect(tiersCrossed(TIERS, 1000, 1499)).toEqual([50, 75, 90, 100]);
    expect(tiersCrossed(TIERS, 1000, 1500)).toEqual(TIERS);
    expect(tiersCrossed(TIERS, 1000, 1e9)).toEqual(TIERS);
  });

  it('handles fractional and near-zero limits at the exact boundary', () => {
    expect(tiersCrossed([29], 1, 0.29)).toEqual([29]);
    expect(tiersCrossed([90], 0.5, 0.45)).toEqual([90]);
    expect(tiersCrossed([90], 0.5, 0.449)).toEqual([]);
    expect(tiersCrossed(TIERS, 0.001, 0.001)).toEqual([50, 75, 90, 100]);
    expect(tiersCrossed(TIERS, 0.001, 0.00049)).toEqual([]);
    expect(tiersCrossed([100], 3, 3)).toEqual([100]);
    expect(tiersCrossed([90], 3, 2.7)).toEqual([90]);
  });

  it('absorbs floating-point summation noise but not real shortfalls', () => {
    let sum = 0;
    for (let i = 0; i < 10; i++) sum += 0.1; // 0.9999999999999999
    expect(sum).toBeLessThan(1);
    expect(tiersCrossed([100], 1, sum)).toEqual([100]);
    expect(tiersCrossed([100], 1_000_000, 999_999.99)).toEqual([]);
  });

  it('returns nothing for a zero limit and sorts unsorted tiers', () => {
    expect(tiersCrossed(TIERS, 0, 10)).toEqual([]);
    expect(tiersCrossed([100, 50], 10, 10)).toEqual([50, 100]);
  });
});

describe('newlyCrossedTiers', () => {
  it('returns the tiers crossed between two usages, ascending', () => {
    expect(newlyCrossedTiers(TIERS, 1000, 0, 500)).toEqual([50]);
    expect(newlyCrossedTiers(TIERS, 1000, 499, 1600)).toEqual([50, 75, 90, 100, 150]);
    expect(newlyCrossedTiers(TIERS, 1000, 500, 749)).toEqual([]);
    expect(newlyCrossedTiers(TIERS, 1000, 500, 500)).toEqual([]);
    expect(newlyCrossedTiers(TIERS, 1000, 899, 900)).toEqual([90]);
  });

  it('returns nothing when usage did not grow', () => {
    expect(newlyCrossedTiers(TIERS, 1000, 1000, 400)).toEqual([]);
  });
});

describe('projectUsage', () => {
  it('is null during the first 24 hours of the period', () => {
    expect(projectUsage(100, nov, nov.start)).toBeNull();
    expect(projectUsage(100, nov, nov.start + 23 * HOUR)).toBeNull();
    expect(projectUsage(100, nov, nov.start + 24 * HOUR)).toBe(3000);
  });

  it('extrapolates linearly to the period end', () => {
    expect(projectUsage(900, nov, nov.start + 15 * DAY)).toBe(1800);
    expect(projectUsage(280, feb, feb.start + 7 * DAY)).toBe(1120);
    expect(projectUsage(0, nov, nov.start + 10 * DAY)).toBe(0);
    expect(projectUsage(100, nov, nov.start + 7 * DAY)).toBe(428.57);
  });

  it('projects a resource provisioned mid-month from its provisioning time', () => {
    const provisioned = nov.start + 20 * DAY; // 10 days of the period left
    expect(projectUsage(500, nov, provisioned + 5 * DAY, provisioned)).toBe(1000);
    // Not from the period start, which would give 500 * 30 / 25 = 600.
    expect(projectUsage(500, nov, provisioned + 12 * HOUR, provisioned)).toBeNull();
    // Provisioned before the period: the whole period counts.
    expect(projectUsage(500, nov, nov.start + 15 * DAY, nov.start - 40 * DAY)).toBe(1000);
  });

  it('takes a custom guard', () => {
    expect(projectUsage(10, nov, nov.start + HOUR, undefined, 1)).toBe(7200);
    expect(projectUsage(10, nov, nov.start, undefined, 0)).toBeNull();
  });

  it('is the usage itself once the period ended, and null for a resource not active in it', () => {
    expect(projectUsage(1234, nov, nov.end)).toBe(1234);
    expect(projectUsage(0, nov, nov.end, nov.end + DAY)).toBeNull();
  });
});

describe('expectedDailyAverage', () => {
  it('spreads the limit over the days of the period', () => {
    expect(expectedDailyAverage(3000, nov)).toBe(100);
    expect(expectedDailyAverage(2800, feb)).toBe(100);
    expect(expectedDailyAverage(3100, periodOf(Date.parse('2026-01-05T00:00:00Z')))).toBe(100);
    expect(expectedDailyAverage(2900, periodOf(Date.parse('2028-02-05T00:00:00Z')))).toBe(100);
  });
});

describe('severityFor', () => {
  it.each([
    ['THRESHOLD', 50, 'INFO'],
    ['THRESHOLD', 89, 'INFO'],
    ['THRESHOLD', 90, 'WARNING'],
    ['THRESHOLD', 99, 'WARNING'],
    ['THRESHOLD', 100, 'CRITICAL'],
    ['THRESHOLD', 150, 'CRITICAL'],
    ['PACE', 50, 'WARNING'],
    ['PACE', 100, 'WARNING'],
  ] as const)('%s %i is %s', (kind, tier, severity) => {
    expect(severityFor(kind, tier)).toBe(severity);
  });
});

describe('alertId', () => {
  it('is deterministic and uuid-shaped', () => {
    const id = alertId('res-1', 'api_calls', '2026-11', 'THRESHOLD', 90);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(alertId('res-1', 'api_calls', '2026-11', 'THRESHOLD', 90)).toBe(id);
  });

  it('differs in every part of the identity', () => {
    const ids = new Set([
      alertId('res-1', 'api_calls', '2026-11', 'THRESHOLD', 90),
      alertId('res-2', 'api_calls', '2026-11', 'THRESHOLD', 90),
      alertId('res-1', 'storage_gb', '2026-11', 'THRESHOLD', 90),
      alertId('res-1', 'api_calls', '2026-12', 'THRESHOLD', 90),
      alertId('res-1', 'api_calls', '2026-11', 'PACE', 90),
      alertId('res-1', 'api_calls', '2026-11', 'THRESHOLD', 100),
      // Separators cannot be forged by the parts themselves.
      alertId('res-1api_calls', '', '2026-11', 'THRESHOLD', 90),
    ]);
    expect(ids.size).toBe(7);
  });
});
