import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

export interface PaceRule {
  usedPercent: number;
  withinDays: number;
}

export interface Plan {
  name: string;
  rank: number;
  /** Per calendar month (UTC). A metric that is not here is unlimited: counted, never alerted. */
  limits: Record<string, number>;
  /** Percent tiers, sorted ascending, unique; values over 100 allowed. */
  thresholds: number[];
  pace: PaceRule[];
  overLimit: string;
  hidden: boolean;
  displayName: string;
}

export interface MetricInfo {
  label: string;
  unit: string;
}

export interface PlanCatalog {
  /** First 12 hex chars of the sha256 of the file content. */
  version: string;
  /** Sorted by rank. */
  plans: Plan[];
  metrics: Record<string, MetricInfo>;
}

export class PlanCatalogError extends Error {
  readonly problems: string[];

  constructor(problems: string[], source?: string) {
    const prefix = source ? `${source}: ` : '';
    const message =
      problems.length === 1
        ? `${prefix}${problems[0]}`
        : `${prefix}${problems.length} problems in the plan catalog:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
    super(message);
    this.name = 'PlanCatalogError';
    this.problems = problems;
  }
}

const PLAN_SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** Whether `name` has the form of a plan name ("basic", "pro-2"): what a request naming a plan must give. */
export function isPlanSlug(name: string): boolean {
  return name.length <= 64 && PLAN_SLUG.test(name);
}
const METRIC_NAME = /^[a-z][a-z0-9_]*$/;
const TOP_LEVEL_KEYS = ['plans', 'metrics'];

// The schema's messages are written for a reader of the YAML file: each names the field (`render`
// prefixes it with the plan's name, or its index while the name is bad) and quotes what it got. A
// message starting with ":" is about the field as a whole: `limits.API-calls: metric names are ...`.
type Issue = { code?: string; input?: unknown; keys?: string[] };

function got(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function unknownKeysProblem(keys: string[], allowed: string[]): string {
  const list = keys.map((k) => JSON.stringify(k)).join(', ');
  return `: unknown key${keys.length > 1 ? 's' : ''} ${list} (allowed: ${allowed.join(', ')})`;
}

/** A message for the given problem, with `(got …)` appended. */
const expected = (what: string) => (iss: Issue) => `${what} (got ${got(iss.input)})`;

/** A map with only the allowed keys; `what` describes it when it is not a map. */
function mapOf<S extends z.ZodRawShape>(shape: S, what: string) {
  return z.strictObject(shape, {
    error: (iss: Issue) =>
      iss.code === 'unrecognized_keys'
        ? unknownKeysProblem(iss.keys ?? [], Object.keys(shape))
        : expected(what)(iss),
  });
}

// Checks that run even when other parts of the value failed, so that every problem is listed at once.
const evenWithOtherProblems = {
  when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null,
};

/** A map of metric name to `value`; the names are checked beside the values, not instead of them. */
function metricMap<T extends z.ZodType>(value: T, what: string, onMissing?: string) {
  return z
    .record(z.string(), value, {
      error: (iss: Issue) => (iss.input === undefined && onMissing ? onMissing : expected(what)(iss)),
    })
    .superRefine((map, ctx) => {
      for (const metric of Object.keys(map)) {
        if (!METRIC_NAME.test(metric)) {
          ctx.addIssue({
            code: 'custom',
            path: [metric],
            message: ': metric names are lower-case letters, digits and "_"',
          });
        }
      }
    }, evenWithOtherProblems);
}

const isPositiveInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

// Checked before trimming, so that a blank value is quoted as it was written.
const nonEmptyText = (what: string) =>
  z
    .string({ error: expected(what) })
    .refine((v) => v.trim() !== '', { error: expected(what) })
    .transform((v) => v.trim());

const positiveInteger = (what: string, max?: number) => {
  const n = z
    .number({ error: expected(what) })
    .int({ error: expected(what) })
    .min(1, { error: expected(what) });
  return max === undefined ? n : n.max(max, { error: expected(what) });
};

const metricSchema = mapOf(
  {
    label: nonEmptyText('must be a non-empty string'),
    unit: z
      .string({ error: expected('must be a string') })
      .trim()
      .optional(),
  },
  'must be a map { label, unit }',
);

const limitProblem = (iss: Issue) =>
  iss.input === 0
    ? 'is 0; a limit must be > 0 (omit the metric to leave it unlimited)'
    : expected('must be a number > 0')(iss);
const limitSchema = z.number({ error: limitProblem }).gt(0, { error: limitProblem });

const thresholdsSchema = z
  .array(positiveInteger('must be a positive integer percent'), {
    error: expected('must be a non-empty list of percent tiers such as [50, 75, 90, 100]'),
  })
  .min(1, { error: expected('must be a non-empty list of percent tiers such as [50, 75, 90, 100]') })
  .superRefine((tiers, ctx) => {
    const seen = new Set<unknown>();
    for (const tier of tiers as unknown[]) {
      if (seen.has(tier) && isPositiveInteger(tier))
        ctx.addIssue({ code: 'custom', message: `lists ${tier} twice` });
      seen.add(tier);
    }
  }, evenWithOtherProblems)
  .transform((tiers) => [...new Set(tiers)].sort((a, b) => a - b));

const paceSchema = z
  .array(
    mapOf(
      {
        // An integer because the alert's `threshold` field (Avro int) carries it.
        usedPercent: positiveInteger('must be an integer percent in 1..1000', 1000),
        withinDays: positiveInteger('must be an integer number of days in 1..31', 31),
      },
      'must be a map { usedPercent, withinDays }',
    ),
    { error: expected('must be a list of { usedPercent, withinDays }') },
  )
  .superRefine((rules, ctx) => {
    // The alert's identity is (PACE, usedPercent): two rules with one percent would share an alert.
    const percents = (rules as unknown[]).map((r) =>
      typeof r === 'object' && r !== null && Number.isInteger((r as PaceRule).usedPercent)
        ? (r as PaceRule).usedPercent
        : undefined,
    );
    percents.forEach((percent, i) => {
      if (percent !== undefined && percents.indexOf(percent) < i) {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'usedPercent'],
          message: `${percent} is used by another pace rule of this plan`,
        });
      }
    });
  }, evenWithOtherProblems)
  .transform((rules) => rules.sort((a, b) => a.withinDays - b.withinDays || a.usedPercent - b.usedPercent));

const planSchema = mapOf(
  {
    name: z.string({ error: expected('must be a plan slug such as "basic" or "pro-2"') }).regex(PLAN_SLUG, {
      error: expected('must be a plan slug such as "basic" or "pro-2"'),
    }),
    rank: z
      .number({ error: expected('must be an integer >= 0') })
      .int({ error: expected('must be an integer >= 0') })
      .min(0, { error: expected('must be an integer >= 0') }),
    limits: metricMap(
      limitSchema,
      'must be a map of metric name to a number',
      'is required (use {} for a plan without limits)',
    ),
    thresholds: thresholdsSchema,
    pace: paceSchema.nullish().transform((rules) => rules ?? []),
    overLimit: nonEmptyText('must be a non-empty text saying what happens over the limit'),
    hidden: z.boolean({ error: expected('must be true or false') }).optional(),
    displayName: nonEmptyText('must be a non-empty string').optional(),
  },
  'must be a map',
).transform(
  (p): Plan => ({
    name: p.name,
    rank: p.rank,
    limits: p.limits,
    thresholds: p.thresholds,
    pace: p.pace,
    overLimit: p.overLimit,
    hidden: p.hidden === true,
    displayName: p.displayName ?? p.name,
  }),
);

const catalogSchema = z.strictObject(
  {
    metrics: metricMap(metricSchema, 'must be a map of metric name to { label, unit }')
      .nullish()
      .transform((metrics): Record<string, MetricInfo> => {
        const out: Record<string, MetricInfo> = {};
        for (const [metric, info] of Object.entries(metrics ?? {})) {
          out[metric] = { label: info.label, unit: info.unit ?? '' };
        }
        return out;
      }),
    plans: z
      .array(planSchema, { error: expected('must be a non-empty list') })
      .min(1, { error: expected('must be a non-empty list') })
      .superRefine((parsed, ctx) => {
        // Runs with other problems too: a plan that failed is compared by the fields it has right.
        const plans = (parsed as unknown[]).filter(
          (p): p is Plan =>
            typeof p === 'object' &&
            p !== null &&
            typeof (p as Plan).name === 'string' &&
            PLAN_SLUG.test((p as Plan).name),
        );
        (parsed as unknown[]).forEach((plan, i) => {
          if (!plans.includes(plan as Plan)) return;
          const { name, rank } = plan as Plan;
          const earlier = plans.slice(0, plans.indexOf(plan as Plan));
          const sameRank = Number.isInteger(rank) ? earlier.find((p) => p.rank === rank) : undefined;
          if (earlier.some((p) => p.name === name)) {
            ctx.addIssue({ code: 'custom', path: [i], message: ': name is used by more than one plan' });
          } else if (sameRank) {
            ctx.addIssue({
              code: 'custom',
              path: [i],
              message: `: rank ${rank} is also the rank of plan "${sameRank.name}"`,
            });
          }
        });
      }, evenWithOtherProblems),
  },
  {
    error: (iss: Issue) =>
      iss.code === 'unrecognized_keys'
        ? unknownKeysProblem(iss.keys ?? [], TOP_LEVEL_KEYS)
        : 'the catalog must be a map with a "plans:" list',
  },
);

/** Turns a zod issue into the problem a reader of the YAML file needs: under `plans`, the plan is named
 * by its name when that is a valid slug (by its index otherwise), then the field path. */
function render(issue: z.core.$ZodIssue, doc: unknown): string {
  let path = issue.path;
  let plan = '';
  if (path[0] === 'plans' && typeof path[1] === 'number') {
    const name = (doc as { plans: { name?: unknown }[] }).plans[path[1]]?.name;
    plan = typeof name === 'string' && PLAN_SLUG.test(name) ? `plan "${name}"` : `plans[${path[1]}]`;
    path = path.slice(2);
  }
  const field = path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');
  const where = plan && field ? `${plan}: ${field}` : plan || field;
  if (issue.message.startsWith(':')) return where ? `${where}${issue.message}` : issue.message.slice(2);
  return where ? `${where} ${issue.message}` : issue.message;
}

/** Parses and validates the plan catalog; every problem found is listed in one PlanCatalogError. */
export function parsePlanCatalog(yamlText: string, source?: string): PlanCatalog {
  let doc: unknown;
  try {
    doc = parse(yamlText);
  } catch (err) {
    throw new PlanCatalogError([`not valid YAML: ${(err as Error).message}`], source);
  }
  const result = catalogSchema.safeParse(doc);
  if (!result.success) {
    throw new PlanCatalogError(
      result.error.issues.map((issue) => render(issue, doc)),
      source,
    );
  }
  return {
    version: createHash('sha256').update(yamlText).digest('hex').slice(0, 12),
    plans: result.data.plans.sort((a, b) => a.rank - b.rank),
    metrics: result.data.metrics,
  };
}

export function loadPlanCatalog(path: string): PlanCatalog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PlanCatalogError([`cannot read the plan catalog: ${(err as Error).message}`], path);
  }
  return parsePlanCatalog(text, path);
}

export function findPlan(catalog: PlanCatalog, name: string): Plan | undefined {
  return catalog.plans.find((p) => p.name === name);
}

/** Every plan ranked below `plan`, highest rank first (hidden plans included). */
export function lowerPlans(catalog: PlanCatalog, plan: Plan): Plan[] {
  return catalog.plans.filter((p) => p.rank < plan.rank).sort((a, b) => b.rank - a.rank);
}

/** The lowest-ranked visible plan above `plan`; with `metric`, the lowest one that raises that metric's limit. */
export function nextPlanUp(catalog: PlanCatalog, plan: Plan, metric?: string): Plan | undefined {
  const limitOf = (p: Plan, m: string) => p.limits[m] ?? Number.POSITIVE_INFINITY;
  return catalog.plans
    .filter((p) => p.rank > plan.rank && !p.hidden)
    .filter((p) => metric === undefined || limitOf(p, metric) > limitOf(plan, metric))
    .sort((a, b) => a.rank - b.rank)[0];
}

export function metricLabel(catalog: PlanCatalog, metric: string): MetricInfo {
  return catalog.metrics[metric] ?? { label: metric.replace(/_/g, ' '), unit: '' };
}
