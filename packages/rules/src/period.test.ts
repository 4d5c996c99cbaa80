import { describe, expect, it } from 'vitest';
import { activeStart, daysInPeriod, daysLeft, nextPeriod, periodOf } from './period.ts';
import { DAY } from './time.ts';

const at = (iso: string) => Date.parse(iso);

describe('periodOf', () => {
  it('is the UTC calendar month, start inclusive, end exclusive', () => {
    const nov = periodOf(at('2026-11-15T12:00:00Z'));
    expect(nov).toEqual({
      start: at('2026-11-01T00:00:00Z'),
      end: at('2026-12-01T00:00:00Z'),
      key: '2026-11',
    });
    expect(periodOf(nov.start)).toEqual(nov);
    expect(periodOf(nov.end - 1)).toEqual(nov);
    expect(periodOf(nov.end).key).toBe('2026-12');
  });

  it('does not follow local time zones', () => {
    // 23:30 on Nov 30 in New York is already December in UTC.
    expect(periodOf(at('2026-11-30T23:30:00-05:00')).key).toBe('2026-12');
  });

  it('rolls over the year', () => {
    const dec = periodOf(at('2026-12-31T23:59:59.999Z'));
    expect(dec.key).toBe('2026-12');
    expect(dec.end).toBe(at('2027-01-01T00:00:00Z'));
    expect(nextPeriod(dec)).toEqual(periodOf(at('2027-01-01T00:00:00Z')));
    expect(nextPeriod(dec).key).toBe('2027-01');
  });

  it('rejects a non-timestamp', () => {
    expect(() => periodOf(Number.NaN)).toThrow(RangeError);
  });
});

describe('daysInPeriod', () => {
  it.each([
    ['2026-02-10T00:00:00Z', 28],
    ['2028-02-10T00:00:00Z', 29],
    ['2026-04-10T00:00:00Z', 30],
    ['2026-01-10T00:00:00Z', 31],
    ['2026-12-10T00:00:00Z', 31],
  ])('%s has %i days', (iso, days) => {
    expect(daysInPeriod(periodOf(at(iso)))).toBe(days);
  });
});

describe('daysLeft', () => {
  const nov = periodOf(at('2026-11-15T00:00:00Z'));

  it('counts a started day as a whole day', () => {
    expect(daysLeft(nov, nov.start)).toBe(30);
    expect(daysLeft(nov, nov.start + 1)).toBe(30);
    expect(daysLeft(nov, nov.start + DAY)).toBe(29);
    expect(daysLeft(nov, nov.end - 1)).toBe(1);
  });

  it('is 0 once the period ended and the whole period before it starts', () => {
    expect(daysLeft(nov, nov.end)).toBe(0);
    expect(daysLeft(nov, nov.end + 5 * DAY)).toBe(0);
    expect(daysLeft(nov, nov.start - DAY)).toBe(30);
  });
});

describe('activeStart', () => {
  const nov = periodOf(at('2026-11-15T00:00:00Z'));

  it('is the provisioning time inside the period, else clamped to it', () => {
    expect(activeStart(nov)).toBe(nov.start);
    expect(activeStart(nov, at('2026-10-03T00:00:00Z'))).toBe(nov.start);
    expect(activeStart(nov, at('2026-11-20T08:00:00Z'))).toBe(at('2026-11-20T08:00:00Z'));
    expect(activeStart(nov, at('2027-01-01T00:00:00Z'))).toBe(nov.end);
  });
});
