import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  findPlan,
  loadPlanCatalog,
  lowerPlans,
  metricLabel,
  nextPlanUp,
  type PlanCatalog,
  PlanCatalogError,
  parsePlanCatalog,
} from './catalog.ts';

const EXAMPLE = fileURLToPath(new URL('../../../plans.example.yaml', import.meta.url));

const CATALOG = `
metrics:
  api_calls: { label: API calls, unit: calls }
plans:
  - name: pro
    rank: 2
    limits: { api_calls: 1000000, storage_gb: 100 }
    thresholds: [90, 50, 100]
    overLimit: Slowed down.
  - name: basic
    rank: 1
    limits: { api_calls: 100000, storage_gb: 10 }
    thresholds: [50, 75, 90, 100, 150]
    pace: [{ usedPercent: 50, withinDays: 7 }]
    overLimit: New API calls are refused with HTTP 429 until the next month.
  - name: big-storage
    rank: 3
    limits: { api_calls: 500000 }
    thresholds: [100]
    overLimit: Read-only.
  - name: secret
    rank: 4
    hidden: true
    displayName: Secret deal
    limits: { api_calls: 9000000 }
    thresholds: [100]
    overLimit: Billed.
`;

/** A one-plan catalog with `field` replaced (or added) in the plan. */
function withPlanField(field: string): string {
  const base: Record<string, string> = {
    name: 'basic',
    rank: '1',
    limits: '{ api_calls: 100000 }',
    thresholds: '[50, 100]',
    overLimit: 'Refused.',
  };
  const [key, ...rest] = field.split(': ');
  base[key as string] = rest.join(': ');
  const lines = Object.entries(base).map(([k, v], i) => `${i === 0 ? '  - ' : '    '}${k}: ${v}`);
  return `plans:\n${lines.join('\n')}\n`;
}

function problemOf(yamlText: string): string {
  try {
    parsePlanCatalog(yamlText);
  } catch (err) {
    expect(err).toBeInstanceOf(PlanCatalogError);
    return (err as Error).message;
  }
  throw new Error('expected the catalog to be rejected');
}

describe('parsePlanCatalog', () => {
  const catalog = parsePlanCatalog(CATALOG);

  it('sorts plans by rank, thresholds ascending, and fills the defaults', () => {
    expect(catalog.plans.map((p) => p.name)).toEqual(['basic', 'pro', 'big-storage', 'secret']);
    const pro = findPlan(catalog, 'pro')!;
    expect(pro.thresholds).toEqual([50, 90, 100]);
    expect(pro.pace).toEqual([]);
    expect(pro.hidden).toBe(false);
    expect(pro.displayName).toBe('pro');
    expect(findPlan(catalog, 'secret')).toMatchObject({ hidden: true, displayName: 'Secret deal' });
    expect(findPlan(catalog, 'basic')!.pace).toEqual([{ usedPercent: 50, withinDays: 7 }]);
  });

  it('versions the catalog by its content', () => {
    expect(catalog.version).toMatch(/^[0-9a-f]{12}$/);
    expect(parsePlanCatalog(CATALOG).version).toBe(catalog.version);
    expect(parsePlanCatalog(`${CATALOG}\n# changed\n`).version).not.toBe(catalog.version);
  });

  it('names the plan and the field of a bad limit', () => {
    expect(problemOf(withPlanField('limits: { api_calls: x }'))).toBe(
      'plan "basic": limits.api_calls must be a number > 0 (got "x")',
    );
    expect(problemOf(withPlanField('limits: { api_calls: -5 }'))).toContain(
      'limits.api_calls must be a number > 0',
    );
    expect(problemOf(withPlanField('limits: { api_calls: .inf }'))).toContain('limits.api_calls');
  });

  it('rejects a limit of 0 and says how to make a metric unlimited', () => {
    expect(problemOf(withPlanField('limits: { api_calls: 0 }'))).toContain(
      'omit the metric to leave it unlimited',
    );
  });

  it('accepts fractional limits and a plan without limits', () => {
    const plan = parsePlanCatalog(withPlanField('limits: { storage_gb: 0.5 }')).plans[0]!;
    expect(plan.limits).toEqual({ storage_gb: 0.5 });
    expect(parsePlanCatalog(withPlanField('limits: {}')).plans[0]!.limits).toEqual({});
  });

  it('rejects unknown keys, so typos do not pass silently', () => {
    expect(problemOf(withPlanField('treshold: [50]'))).toContain('plan "basic": unknown key "treshold"');
    expect(problemOf(withPlanField('pace: [{ usedPercent: 50, withinDay: 7 }]'))).toContain(
      'unknown key "withinDay"',
    );
    expect(problemOf(`plan:\n  - name: x\n${withPlanField('rank: 1')}`)).toContain('unknown key "plan"');
    expect(problemOf(`metrics: { api_calls: { lable: API } }\n${withPlanField('rank: 1')}`)).toContain(
      'metrics.api_calls: unknown key "lable"',
    );
  });

  it.each([
    ['name: Basic Plan', 'name must be a plan slug'],
    ['rank: 1.5', 'rank must be an integer >= 0'],
    ['rank: -1', 'rank must be an integer >= 0'],
    ['thresholds: []', 'thresholds must be a non-empty list'],
    ['thresholds: [50, 0]', 'thresholds[1] must be a positive integer percent (got 0)'],
    ['thresholds: [50, 75.5]', 'thresholds[1] must be a positive integer'],
    ['thresholds: [50, 50]', 'thresholds lists 50 twice'],
    [
      'pace: [{ usedPercent: 0, withinDays: 7 }]',
      'pace[0].usedPercent must be an integer percent in 1..1000',
    ],
    ['pace: [{ usedPercent: 1001, withinDays: 7 }]', 'pace[0].usedPercent'],
    [
      'pace: [{ usedPercent: 50, withinDays: 0 }]',
      'pace[0].withinDays must be an integer number of days in 1..31',
    ],
    ['pace: [{ usedPercent: 50, withinDays: 32 }]', 'pace[0].withinDays'],
    [
      'pace: [{ usedPercent: 50, withinDays: 7 }, { usedPercent: 50, withinDays: 14 }]',
      'used by another pace rule',
    ],
    ['overLimit: "  "', 'overLimit must be a non-empty text'],
    ['hidden: yes', 'hidden must be true or false'],
    ['displayName: ""', 'displayName must be a non-empty string'],
    ['limits: { API-calls: 5 }', 'metric names are lower-case'],
  ])('rejects %s', (field, problem) => {
    expect(problemOf(withPlanField(field))).toContain(problem);
  });

  it('accepts the pace edges 1000% and 31 days', () => {
    const plan = parsePlanCatalog(withPlanField('pace: [{ usedPercent: 1000, withinDays: 31 }]')).plans[0]!;
    expect(plan.pace).toEqual([{ usedPercent: 1000, withinDays: 31 }]);
  });

  it('rejects missing fields, naming them', () => {
    const problem = problemOf('plans:\n  - name: basic\n');
    for (const field of ['rank', 'limits', 'thresholds', 'overLimit']) expect(problem).toContain(field);
  });

  it('rejects duplicate names and ranks', () => {
    const plan = (name: string, rank: number) =>
      `  - { name: ${name}, rank: ${rank}, limits: {}, thresholds: [100], overLimit: x }\n`;
    expect(problemOf(`plans:\n${plan('a', 1)}${plan('a', 2)}`)).toContain(
      'plan "a": name is used by more than one',
    );
    expect(problemOf(`plans:\n${plan('a', 1)}${plan('b', 1)}`)).toContain(
      'plan "b": rank 1 is also the rank of plan "a"',
    );
  });

  it('rejects bad YAML, an empty catalog and a catalog without plans', () => {
    expect(problemOf('plans: [')).toContain('not valid YAML');
    expect(problemOf('')).toContain('"plans:"');
    expect(problemOf('plans: []')).toContain('plans must be a non-empty list');
  });

  it('lists every problem at once and names the source', () => {
    expect(() => parsePlanCatalog(withPlanField('rank: x\n    hidden: 3'), 'plans.yaml')).toThrow(
      /^plans\.yaml: 2 problems in the plan catalog:\n {2}- plan "basic": rank .*\n {2}- plan "basic": hidden/,
    );
  });
});

describe('parsePlanCatalog with many problems', () => {
  it('lists a bad metric name, duplicates and bad values together, each once', () => {
    const text = [
      'metrics: { API: { lable: x } }',
      'plans:',
      '  - { name: a, rank: 1, limits: { API-calls: 0 }, thresholds: [50, 50, 0], overLimit: x,',
      '      pace: [{ usedPercent: 50, withinDays: 7 }, { usedPercent: 50, withinDays: 3 }, 5] }',
      '  - { name: a, rank: 2, limits: {}, thresholds: [100], overLimit: x }',
      '  - { name: b, rank: 1, limits: {}, thresholds: [100], overLimit: " " }',
    ].join('\n');
    try {
      parsePlanCatalog(text);
      expect.unreachable('the catalog should be rejected');
    } catch (err) {
      expect((err as PlanCatalogError).problems.sort()).toEqual(
        [
          'metrics.API.label must be a non-empty string (got nothing)',
          'metrics.API: unknown key "lable" (allowed: label, unit)',
          'metrics.API: metric names are lower-case letters, digits and "_"',
          'plan "a": limits.API-calls is 0; a limit must be > 0 (omit the metric to leave it unlimited)',
          'plan "a": limits.API-calls: metric names are lower-case letters, digits and "_"',
          'plan "a": thresholds[2] must be a positive integer percent (got 0)',
          'plan "a": thresholds lists 50 twice',
          'plan "a": pace[2] must be a map { usedPercent, withinDays } (got 5)',
          'plan "a": pace[1].usedPercent 50 is used by another pace rule of this plan',
          'plan "a": name is used by more than one plan',
          'plan "b": overLimit must be a non-empty text saying what happens over the limit (got " ")',
          'plan "b": rank 1 is also the rank of plan "a"',
        ].sort(),
      );
    }
  });
});

describe('plan navigation', () => {
  const catalog: PlanCatalog = parsePlanCatalog(CATALOG);
  const plan = (name: string) => findPlan(catalog, name)!;

  it('finds plans by name', () => {
    expect(findPlan(catalog, 'nope')).toBeUndefined();
  });

  it('lists lower plans highest first', () => {
    expect(lowerPlans(catalog, plan('secret')).map((p) => p.name)).toEqual(['big-storage', 'pro', 'basic']);
    expect(lowerPlans(catalog, plan('basic'))).toEqual([]);
  });

  it('finds the next visible plan up, optionally one that raises a metric', () => {
    expect(nextPlanUp(catalog, plan('basic'))?.name).toBe('pro');
    // big-storage has a lower api_calls limit than pro; secret is hidden.
    expect(nextPlanUp(catalog, plan('pro'), 'api_calls')).toBeUndefined();
    // A plan that does not limit the metric raises it.
    expect(nextPlanUp(catalog, plan('pro'), 'storage_gb')?.name).toBe('big-storage');
    expect(nextPlanUp(catalog, plan('big-storage'))).toBeUndefined();
  });

  it('labels metrics, with a readable fallback', () => {
    expect(metricLabel(catalog, 'api_calls')).toEqual({ label: 'API calls', unit: 'calls' });
    expect(metricLabel(catalog, 'storage_gb')).toEqual({ label: 'storage gb', unit: '' });
  });
});

describe('plans.example.yaml', () => {
  it('validates and has ranked plans, a tier over 100% and pace rules', () => {
    const catalog = loadPlanCatalog(EXAMPLE);
    expect(catalog.plans.length).toBeGreaterThanOrEqual(3);
    expect(catalog.plans.some((p) => p.thresholds.some((t) => t > 100))).toBe(true);
    expect(catalog.plans.some((p) => p.pace.length > 0)).toBe(true);
    for (const plan of catalog.plans) {
      for (const metric of Object.keys(plan.limits)) expect(catalog.metrics[metric]).toBeDefined();
    }
  });

  it('names the file when it cannot be read', () => {
    expect(() => loadPlanCatalog('/nonexistent/plans.yaml')).toThrow(
      /^\/nonexistent\/plans\.yaml: cannot read/,
    );
  });
});
