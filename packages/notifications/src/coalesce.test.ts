import { describe, expect, it } from 'vitest';
import type { AlertForEmail } from './alert.ts';
import { coalesce, headlineAlert } from './coalesce.ts';

const NOV = Date.UTC(2026, 10, 1);
const DEC = Date.UTC(2026, 11, 1);

function alert(resourceId: string, threshold: number, over: Partial<AlertForEmail> = {}): AlertForEmail {
  const metric = over.metric ?? 'api_calls';
  const kind = over.kind ?? 'THRESHOLD';
  return {
    id: `${resourceId}:${metric}:${kind}:${threshold}:${over.periodStart ?? NOV}`,
    resourceId,
    plan: 'basic',
    metric,
    kind,
    threshold,
    severity: threshold >= 100 ? 'CRITICAL' : threshold >= 90 ? 'WARNING' : 'INFO',
    used: threshold * 10,
    limit: 1000,
    percent: threshold,
    projected: null,
    periodStart: NOV,
    periodEnd: DEC,
    occurredAt: NOV + threshold,
    ...over,
  };
}

const tiers = (groups: AlertForEmail[][]) =>
  groups.map((g) => g.map((a) => `${a.resourceId}:${a.threshold}`));

describe('coalesce', () => {
  it('groups by resource in first-appearance order, tiers ascending', () => {
    const groups = coalesce([
      alert('r2', 90),
      alert('r1', 75),
      alert('r2', 50),
      alert('r1', 100),
      alert('r2', 75),
    ]);
    expect(tiers(groups)).toEqual([
      ['r2:50', 'r2:75', 'r2:90'],
      ['r1:75', 'r1:100'],
    ]);
  });

  it('keeps metrics in first-appearance order and puts pace after the tiers of its metric', () => {
    const [group] = coalesce([
      alert('r1', 50, { metric: 'storage_gb' }),
      alert('r1', 50, { kind: 'PACE' }),
      alert('r1', 90),
      alert('r1', 75, { metric: 'storage_gb' }),
    ]);
    expect(group!.map((a) => `${a.metric}:${a.kind}:${a.threshold}`)).toEqual([
      'storage_gb:THRESHOLD:50',
      'storage_gb:THRESHOLD:75',
      'api_calls:THRESHOLD:90',
      'api_calls:PACE:50',
    ]);
  });

  it('drops a redelivered alert with the same id', () => {
    const a = alert('r1', 50);
    expect(coalesce([a, alert('r1', 75), { ...a }])[0]).toHaveLength(2);
  });

  it('never puts two periods of one resource in one email', () => {
    const december = alert('r1', 50, { periodStart: DEC, periodEnd: Date.UTC(2027, 0, 1) });
    expect(coalesce([alert('r1', 90), december]).map((g) => g.length)).toEqual([1, 1]);
  });

  it('returns nothing for nothing', () => {
    expect(coalesce([])).toEqual([]);
  });
});

describe('headlineAlert', () => {
  it('picks the most severe, then a crossed tier over a pace, then the highest tier', () => {
    expect(headlineAlert([alert('r1', 50), alert('r1', 150), alert('r1', 100)]).threshold).toBe(150);
    const pace = alert('r1', 50, { kind: 'PACE', severity: 'WARNING' });
    expect(headlineAlert([pace, alert('r1', 90)]).kind).toBe('THRESHOLD');
    expect(headlineAlert([alert('r1', 75), pace])).toBe(pace);
  });
});
