import { seededRandom } from '@meterline/metering/fixtures';
import { alertId, DAY, HOUR, parsePlanCatalog, periodOf } from '@meterline/rules';
import { describe, expect, it } from 'vitest';
import { AbuseDetector } from './abuse.ts';
import { daysToDrill, replayRows } from './days.ts';
import {
  periodsBetween,
  type ResourceTimeline,
  replayAlerts,
  type UsageHour,
  usageByPeriod,
} from './replay.ts';
import { betterPlan, OutcomeBuilder, percentile } from './summary.ts';

const catalog = parsePlanCatalog(`
metrics:
  api_calls: { label: API calls, unit: calls }
plans:
  - name: small
    displayName: Small
    rank: 0
    limits: { api_calls: 1000 }
    thresholds: [50, 100]
    pace: [{ usedPercent: 50, withinDays: 7 }]
    overLimit: refused
  - name: big
    displayName: Big
    rank: 1
    limits: { api_calls: 10000 }
    thresholds: [50, 100]
    pace: []
    overLimit: refused
`);
const proposed = parsePlanCatalog(`
metrics:
  api_calls: { label: API calls, unit: calls }
plans:
  - name: small
    displayName: Small
    rank: 0
    limits: { api_calls: 2000 }
    thresholds: [75, 100]
    pace: []
    overLimit: refused
  - name: big
    displayName: Big
    rank: 1
    limits: { api_calls: 10000 }
    thresholds: [50, 100]
    pace: []
    overLimit: refused
`);

const nov = Date.UTC(2026, 10, 1);
const dec = Date.UTC(2026, 11, 1);
const asOf = Date.UTC(2027, 0, 1);

function resource(
  id: string,
  plan = 'small',
  changes: { at: number; plan: string }[] = [],
): ResourceTimeline {
  return {
    id,
    provisionedAt: Date.UTC(2026, 9, 1),
    deprovisionedAt: null,
    live: true,
    planAt: (ts) => changes.filter((c) => c.at <= ts).at(-1)?.plan ?? plan,
    planChanges: changes.map((c) => c.at),
  };
}

const hour = (day: number, h = 12, start = nov) => start + (day - 1) * DAY + h * HOUR;

describe('replayAlerts', () => {
  it('decides each tier once per period, on the hour whose running total crosses it, with the evaluator’s ids', () => {
    const r = resource('00000000-0000-4000-8000-000000000001');
    const hours: UsageHour[] = [
      { metric: 'api_calls', hour: hour(10), quantity: 400 },
      { metric: 'api_calls', hour: hour(11), quantity: 200 }, // 600: 50%
      { metric: 'api_calls', hour: hour(20), quantity: 500 }, // 1100: 100%
      { metric: 'api_calls', hour: hour(2, 12, dec), quantity: 600 }, // December starts again: 50%, in pace
    ];
    const alerts = replayAlerts(r, hours, catalog, { asOf });
    expect(alerts.map((a) => [a.periodKey, a.kind, a.threshold, a.hour])).toEqual([
      ['2026-11', 'THRESHOLD', 50, hour(11)],
      ['2026-11', 'THRESHOLD', 100, hour(20)],
      ['2026-12', 'THRESHOLD', 50, hour(2, 12, dec)],
      ['2026-12', 'PACE', 50, hour(2, 12, dec)],
    ]);
    expect(alerts[0]!.id).toBe(alertId(r.id, 'api_calls', '2026-11', 'THRESHOLD', 50));
    expect(alerts[2]!.severity).toBe('INFO');
  });

  it('raises PACE only inside the rule’s window and after the first day', () => {
    const r = resource('00000000-0000-4000-8000-000000000002');
    const early = [{ metric: 'api_calls', hour: hour(1, 3), quantity: 600 }];
    // Day 1 is inside the 24 h guard: no pace yet; usage on day 2 makes it fire.
    expect(replayAlerts(r, early, catalog, { asOf }).map((a) => a.kind)).toEqual(['THRESHOLD']);
    const later = [...early, { metric: 'api_calls', hour: hour(2, 3), quantity: 1 }];
    expect(replayAlerts(r, later, catalog, { asOf }).map((a) => `${a.kind}${a.threshold}`)).toEqual([
      'THRESHOLD50',
      'PACE50',
    ]);
    // Half the allowance on day 9: past the 7-day window, no PACE.
    const late = [{ metric: 'api_calls', hour: hour(9), quantity: 600 }];
    expect(replayAlerts(r, late, catalog, { asOf }).map((a) => a.kind)).toEqual(['THRESHOLD']);
  });

  it('judges each hour by the plan the resource was on then, and ignores hours it was not live', () => {
    const r = resource('00000000-0000-4000-8000-000000000003', 'small', [{ at: hour(5), plan: 'big' }]);
    const hours = [
      { metric: 'api_calls', hour: hour(3), quantity: 400 }, // small: 40%
      { metric: 'api_calls', hour: hour(6), quantity: 200 }, // big: 6%
    ];
    expect(replayAlerts(r, hours, catalog, { asOf })).toEqual([]);
    const gone = { ...resource('00000000-0000-4000-8000-000000000004'), deprovisionedAt: hour(2) };
    expect(
      replayAlerts(gone, [{ metric: 'api_calls', hour: hour(3), quantity: 900 }], catalog, { asOf }),
    ).toEqual([]);
  });

  it('leaves out usage after asOf', () => {
    const r = resource('00000000-0000-4000-8000-000000000005');
    const hours = [{ metric: 'api_calls', hour: hour(20), quantity: 900 }];
    expect(replayAlerts(r, hours, catalog, { asOf: hour(19) })).toEqual([]);
  });
});

describe('outcomes', () => {
  it('counts crossings, emails per group, over-limit, blocked downgrades and better plans per catalog', () => {
    const periods = periodsBetween(nov, nov);
    const rBig = resource('00000000-0000-4000-8000-000000000010', 'big');
    const hours = [{ metric: 'api_calls', hour: hour(3), quantity: 1500 }];
    const usage = usageByPeriod(rBig, hours, { periods, asOf: hour(4) });
    expect(usage[0]!.totals).toEqual({ api_calls: 1500 });
    expect(usage[0]!.days.api_calls![2]).toBe(1500);

    const rSmall = resource('00000000-0000-4000-8000-000000000011');
    const smallUsage = usageByPeriod(rSmall, hours, { periods, asOf: hour(4) });
    const outcome = (c: typeof catalog) => {
      const b = new OutcomeBuilder(c, { asOf: hour(4), lastPeriodKey: '2026-11' });
      b.add(rBig, usage, replayAlerts(rBig, hours, c, { asOf: hour(4) }));
      b.add(rSmall, smallUsage, replayAlerts(rSmall, hours, c, { asOf: hour(4) }));
      return b.build();
    };
    const now = outcome(catalog);
    const small = now.plans.find((p) => p.plan === 'small')!;
    // 1,500 of 1,000 in one hour: both tiers and the pace rule at once, in one email.
    expect(small.thresholds).toEqual([
      { threshold: 50, resources: 1, averageDay: 3 },
      { threshold: 100, resources: 1, averageDay: 3 },
    ]);
    expect(small.pace).toEqual([{ threshold: 50, resources: 1, averageDay: 3 }]);
    expect(now.totalAlerts).toBe(3);
    expect(now.totalEmails).toBe(1);
    expect(now.alerts.find((t) => t.kind === 'THRESHOLD' && t.threshold === 100)).toMatchObject({
      alerts: 1,
      emails: 1,
    });
    expect(now.overLimit).toHaveLength(1);
    expect(small.histogram.at(-1)).toBe(1); // 150%
    // The big resource has used 1,500: more than small's 1,000, so its downgrade is refused.
    expect(now.blockedDowngrades.get(rBig.id)).toEqual(['small']);

    const next = outcome(proposed);
    expect(next.plans.find((p) => p.plan === 'small')!.thresholds).toEqual([
      { threshold: 75, resources: 1, averageDay: 3 },
      { threshold: 100, resources: 0, averageDay: null },
    ]);
    expect(next.overLimit).toHaveLength(0);
    expect(next.blockedDowngrades.has(rBig.id)).toBe(false);
    // Big uses 1,500 a month: Small (2,000) fits it under the proposal.
    expect(next.betterPlans).toEqual([
      expect.objectContaining({ resourceId: rBig.id, plan: 'big', suggested: 'small', direction: 'down' }),
    ]);
  });

  it('advises the cheapest plan the peak of the last periods fits, upward too', () => {
    const periods = periodsBetween(nov, dec);
    const r = resource('00000000-0000-4000-8000-000000000012');
    const usage = usageByPeriod(
      r,
      [
        { metric: 'api_calls', hour: hour(3), quantity: 5000 },
        { metric: 'api_calls', hour: hour(3, 12, dec), quantity: 100 },
      ],
      { periods, asOf },
    );
    expect(betterPlan(catalog, r.id, usage)).toMatchObject({
      suggested: 'big',
      direction: 'up',
      peak: { api_calls: 5000 },
    });
    expect(betterPlan(catalog, r.id, usage.slice(1))).toBeNull();
  });

  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(xs, 50), percentile(xs, 90), percentile(xs, 99)]).toEqual([50, 90, 99]);
    expect(percentile([], 50)).toBe(0);
  });
});

describe('abuse signals', () => {
  it('flags a day far above the p99 of the plan’s other resources, which the outlier does not raise', () => {
    const periods = periodsBetween(nov, nov);
    const detector = new AbuseDetector(catalog, { factor: 10, minPeerDays: 50 });
    for (let i = 0; i < 10; i++) {
      const r = resource(`00000000-0000-4000-8000-0000000001${String(i).padStart(2, '0')}`);
      const hours = Array.from({ length: 10 }, (_, d) => ({
        metric: 'api_calls',
        hour: hour(d + 1),
        quantity: 10 + i,
      }));
      detector.add(r.id, usageByPeriod(r, hours, { periods, asOf }));
    }
    const abuser = resource('00000000-0000-4000-8000-000000000999');
    detector.add(
      abuser.id,
      usageByPeriod(abuser, [{ metric: 'api_calls', hour: hour(15), quantity: 5000 }], { periods, asOf }),
    );
    const signals = detector.signals();
    expect(signals).toEqual([
      expect.objectContaining({
        resourceId: abuser.id,
        plan: 'small',
        metric: 'api_calls',
        day: '2026-11-15',
        used: 5000,
        planP99: 19,
      }),
    ]);
    expect(periodOf(hour(15)).key).toBe('2026-11');
  });

  it('has no yardstick from too few peers', () => {
    const periods = periodsBetween(nov, nov);
    const detector = new AbuseDetector(catalog, { factor: 10, minPeerDays: 50 });
    const a = resource('00000000-0000-4000-8000-000000000201');
    const b = resource('00000000-0000-4000-8000-000000000202');
    detector.add(
      a.id,
      usageByPeriod(a, [{ metric: 'api_calls', hour: hour(1), quantity: 1 }], { periods, asOf }),
    );
    detector.add(
      b.id,
      usageByPeriod(b, [{ metric: 'api_calls', hour: hour(1), quantity: 1000 }], { periods, asOf }),
    );
    expect(detector.signals()).toEqual([]);
  });
});

describe('day-level reading (daysToDrill + replayRows)', () => {
  it('decides the same alerts, on the same days, as replaying every hour', () => {
    const guards = { minElapsedHours: 24, minLimit: 10 };
    const asOf = Date.UTC(2026, 11, 9, 13, 30);
    const kinds = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      // Seeded, so a failure reproduces.
      const rand = seededRandom(seed);
      const changes =
        rand() < 0.4
          ? [{ at: nov + Math.floor(rand() * 40) * DAY + Math.floor(rand() * 24) * HOUR, plan: 'big' }]
          : [];
      const r = {
        ...resource(`00000000-0000-4000-8000-${String(seed).padStart(12, '0')}`, 'small', changes),
        provisionedAt: nov + Math.floor(rand() * 10 * 24) * HOUR + 17 * 60_000,
        deprovisionedAt: rand() < 0.2 ? nov + 30 * DAY + Math.floor(rand() * 9 * 24) * HOUR : null,
      };
      const hours: UsageHour[] = [];
      const scale = 1 + rand() * 6;
      for (let h = 0; nov + h * HOUR < asOf + DAY; h++)
        if (rand() < 0.3)
          hours.push({ metric: 'api_calls', hour: nov + h * HOUR, quantity: Math.round(rand() * scale * 3) });
      const days = [
        ...hours.reduce((m, h) => {
          const day = Math.floor(h.hour / DAY) * DAY;
          m.set(day, (m.get(day) ?? 0) + h.quantity);
          return m;
        }, new Map<number, number>()),
      ].map(([day, quantity]) => ({ metric: 'api_calls', day, quantity }));
      const drilled = daysToDrill(r, days, [catalog, proposed], { asOf, guards });
      const drilledHours = hours.filter((h) => drilled.has(`api_calls|${Math.floor(h.hour / DAY) * DAY}`));
      expect(drilled.size).toBeLessThan(days.length);
      for (const c of [catalog, proposed]) {
        const key = (a: { id: string; hour: number }) => `${a.id}@${Math.floor(a.hour / DAY)}`;
        const all = replayAlerts(r, hours, c, { asOf, guards });
        for (const a of all) kinds.add(`${a.kind}${a.threshold}`);
        const exact = all.map(key);
        const fast = replayAlerts(r, replayRows(days, drilled, drilledHours), c, { asOf, guards }).map(key);
        expect(fast, `seed ${seed}`).toEqual(exact);
      }
    }
    // The cases reach every kind of decision, or they prove little.
    expect([...kinds].sort()).toEqual(['PACE50', 'THRESHOLD100', 'THRESHOLD50', 'THRESHOLD75']);
  });
});
