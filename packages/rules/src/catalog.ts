import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

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
const METRIC_NAME = /^[a-z][a-z0-9_]*$/;
const TOP_LEVEL_KEYS = ['plans', 'metrics'];
const PLAN_KEYS = ['name', 'rank', 'limits', 'thresholds', 'pace', 'overLimit', 'hidden', 'displayName'];
const PACE_KEYS = ['usedPercent', 'withinDays'];
const METRIC_KEYS = ['label', 'unit'];

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function got(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function unknownKeys(value: Mapping, allowed: string[]): string[] {
  return Object.keys(value).filter((key) => !allowed.includes(key));
}

function unknownKeysProblem(where: string, keys: string[], allowed: string[]): string {
  const list = keys.map((k) => JSON.stringify(k)).join(', ');
  return `${where}unknown key${keys.length > 1 ? 's' : ''} ${list} (allowed: ${allowed.join(', ')})`;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

function parseMetrics(raw: unknown, problems: string[]): Record<string, MetricInfo> {
  const metrics: Record<string, MetricInfo> = {};
  if (raw === undefined || raw === null) return metrics;
  if (!isMapping(raw)) {
    problems.push(`metrics must be a map of metric name to { label, unit } (got ${got(raw)})`);
    return metrics;
  }
  for (const [metric, info] of Object.entries(raw)) {
    const where = `metrics.${metric}`;
    if (!METRIC_NAME.test(metric)) {
      problems.push(`${where}: metric names are lower-case letters, digits and "_"`);
    }
    if (!isMapping(info)) {
      problems.push(`${where} must be a map { label, unit } (got ${got(info)})`);
      continue;
    }
    const extra = unknownKeys(info, METRIC_KEYS);
    if (extra.length > 0) problems.push(unknownKeysProblem(`${where}: `, extra, METRIC_KEYS));
    const { label, unit } = info;
    if (typeof label !== 'string' || label.trim() === '') {
      problems.push(`${where}.label must be a non-empty string (got ${got(label)})`);
    }
    if (unit !== undefined && typeof unit !== 'string') {
      problems.push(`${where}.unit must be a string (got ${got(unit)})`);
    }
    metrics[metric] = {
      label: typeof label === 'string' ? label.trim() : metric,
      unit: typeof unit === 'string' ? unit.trim() : '',
    };
  }
  return metrics;
}

function parseLimits(raw: unknown, at: string, problems: string[]): Record<string, number> {
  const limits: Record<string, number> = {};
  if (raw === undefined) {
    problems.push(`${at}limits is required (use {} for a plan without limits)`);
    return limits;
  }
  if (!isMapping(raw)) {
    problems.push(`${at}limits must be a map of metric name to a number (got ${got(raw)})`);
    return limits;
  }
  for (const [metric, limit] of Object.entries(raw)) {
    if (!METRIC_NAME.test(metric)) {
      problems.push(`${at}limits.${metric}: metric names are lower-case letters, digits and "_"`);
    }
    if (limit === 0) {
      problems.push(
        `${at}limits.${metric} is 0; a limit must be > 0 (omit the metric to leave it unlimited)`,
      );
    } else if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0) {
      problems.push(`${at}limits.${metric} must be a number > 0 (got ${got(limit)})`);
    } else {
      limits[metric] = limit;
    }
  }
  return limits;
}

function parseThresholds(raw: unknown, at: string, problems: string[]): number[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    problems.push(
      `${at}thresholds must be a non-empty list of percent tiers such as [50, 75, 90, 100] (got ${got(raw)})`,
    );
    return [];
  }
  const tiers: number[] = [];
  raw.forEach((tier: unknown, i) => {
    if (!isPositiveInteger(tier)) {
      problems.push(`${at}thresholds[${i}] must be a positive integer percent (got ${got(tier)})`);
    } else if (tiers.includes(tier)) {
      problems.push(`${at}thresholds lists ${tier} twice`);
    } else {
      tiers.push(tier);
    }
  });
  return tiers.sort((a, b) => a - b);
}

function parsePace(raw: unknown, at: string, problems: string[]): PaceRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    problems.push(`${at}pace must be a list of { usedPercent, withinDays } (got ${got(raw)})`);
    return [];
  }
  const rules: PaceRule[] = [];
  raw.forEach((rule: unknown, i) => {
    const where = `${at}pace[${i}]`;
    if (!isMapping(rule)) {
      problems.push(`${where} must be a map { usedPercent, withinDays } (got ${got(rule)})`);
      return;
    }
    const extra = unknownKeys(rule, PACE_KEYS);
    if (extra.length > 0) problems.push(unknownKeysProblem(`${where}: `, extra, PACE_KEYS));
    const { usedPercent, withinDays } = rule;
    let ok = true;
    // An integer because the alert's `threshold` field (Avro int) carries it.
    if (!isPositiveInteger(usedPercent) || usedPercent > 1000) {
      problems.push(`${where}.usedPercent must be an integer percent in 1..1000 (got ${got(usedPercent)})`);
      ok = false;
    }
    if (!isPositiveInteger(withinDays) || withinDays > 31) {
      problems.push(
        `${where}.withinDays must be an integer number of days in 1..31 (got ${got(withinDays)})`,
      );
      ok = false;
    }
    if (!ok) return;
    // The alert's identity is (PACE, usedPercent): two rules with one percent would share an alert.
    if (rules.some((r) => r.usedPercent === usedPercent)) {
      problems.push(`${where}.usedPercent ${usedPercent} is used by another pace rule of this plan`);
      return;
    }
    rules.push({ usedPercent: usedPercent as number, withinDays: withinDays as number });
  });
  return rules.sort((a, b) => a.withinDays - b.withinDays || a.usedPercent - b.usedPercent);
}

function parsePlan(raw: unknown, index: number, problems: string[]): Plan | undefined {
  if (!isMapping(raw)) {
    problems.push(`plans[${index}] must be a map (got ${got(raw)})`);
    return undefined;
  }
  const { name } = raw;
  const nameOk = typeof name === 'string' && PLAN_SLUG.test(name);
  const at = nameOk ? `plan "${name}": ` : `plans[${index}]: `;
  const before = problems.length;
  if (!nameOk) {
    problems.push(`${at}name must be a plan slug such as "basic" or "pro-2" (got ${got(name)})`);
  }
  const extra = unknownKeys(raw, PLAN_KEYS);
  if (extra.length > 0) problems.push(unknownKeysProblem(at, extra, PLAN_KEYS));

  const { rank, overLimit, hidden, displayName } = raw;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 0) {
    problems.push(`${at}rank must be an integer >= 0 (got ${got(rank)})`);
  }
  const limits = parseLimits(raw.limits, at, problems);
  const thresholds = parseThresholds(raw.thresholds, at, problems);
  const pace = parsePace(raw.pace, at, problems);
  if (typeof overLimit !== 'string' || overLimit.trim() === '') {
    problems.push(
      `${at}overLimit must be a non-empty text saying what happens over the limit (got ${got(overLimit)})`,
    );
  }
  if (hidden !== undefined && typeof hidden !== 'boolean') {
    problems.push(`${at}hidden must be true or false (got ${got(hidden)})`);
  }
  if (displayName !== undefined && (typeof displayName !== 'string' || displayName.trim() === '')) {
    problems.push(`${at}displayName must be a non-empty string (got ${got(displayName)})`);
  }
  if (problems.length > before) return undefined;
  return {
    name: name as string,
    rank: rank as number,
    limits,
    thresholds,
    pace,
    overLimit: (overLimit as string).trim(),
    hidden: hidden === true,
    displayName: typeof displayName === 'string' ? displayName.trim() : (name as string),
  };
}

/** Parses and validates the plan catalog; every problem found is listed in one PlanCatalogError. */
export function parsePlanCatalog(yamlText: string, source?: string): PlanCatalog {
  let doc: unknown;
  try {
    doc = parse(yamlText);
  } catch (err) {
    throw new PlanCatalogError([`not valid YAML: ${(err as Error).message}`], source);
  }
  if (!isMapping(doc)) {
    throw new PlanCatalogError(['the catalog must be a map with a "plans:" list'], source);
  }
  const problems: string[] = [];
  const extra = unknownKeys(doc, TOP_LEVEL_KEYS);
  if (extra.length > 0) problems.push(unknownKeysProblem('', extra, TOP_LEVEL_KEYS));
  const metrics = parseMetrics(doc.metrics, problems);

  const plans: Plan[] = [];
  if (!Array.isArray(doc.plans) || doc.plans.length === 0) {
    problems.push(`plans must be a non-empty list (got ${got(doc.plans)})`);
  } else {
    doc.plans.forEach((raw: unknown, i) => {
      const plan = parsePlan(raw, i, problems);
      if (!plan) return;
      const sameName = plans.find((p) => p.name === plan.name);
      const sameRank = plans.find((p) => p.rank === plan.rank);
      if (sameName) {
        problems.push(`plan "${plan.name}": name is used by more than one plan`);
      } else if (sameRank) {
        problems.push(`plan "${plan.name}": rank ${plan.rank} is also the rank of plan "${sameRank.name}"`);
      } else {
        plans.push(plan);
      }
    });
  }
  if (problems.length > 0) throw new PlanCatalogError(problems, source);

  return {
    version: createHash('sha256').update(yamlText).digest('hex').slice(0, 12),
    plans: plans.sort((a, b) => a.rank - b.rank),
    metrics,
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
