import { lowerPlans, type MetricInfo, metricLabel, type Plan, type PlanCatalog } from './catalog.ts';
import { activeStart, monthName, type Period } from './period.ts';
import { projectUsage } from './usage.ts';

export interface DowngradeRule {
  /** The projection only counts once this fraction of the resource's part of the period has passed. */
  projectionMinElapsedFraction: number;
  /** Refuse when the projection exceeds the target limit times this margin. */
  projectionMargin: number;
}

export const DEFAULT_DOWNGRADE_RULE: DowngradeRule = {
  projectionMinElapsedFraction: 0.5,
  projectionMargin: 1.0,
};

export interface ExceededLimit {
  metric: string;
  used: number;
  targetLimit: number;
  projected: number | null;
}

export interface DowngradeDecision {
  allowed: boolean;
  exceeded: ExceededLimit[];
  /** For the customer and support staff. */
  message: string;
  /** The next period's start when refused; null when allowed. */
  allowedFrom: number | null;
}

export interface DowngradeInput {
  catalog: PlanCatalog;
  currentPlan: Plan;
  targetPlan: Plan;
  /** Usage per metric in `period` so far; a missing metric counts as 0. */
  usage: Record<string, number>;
  period: Period;
  now: number;
  activeFrom?: number;
  rule?: Partial<DowngradeRule>;
}

const wholeAndCents = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const smallFraction = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 2 });

/** 150000 -> "150,000"; 12.345 -> "12.35"; 0.004 -> "0.004". */
export function formatQuantity(n: number): string {
  return n !== 0 && Math.abs(n) < 0.01 ? smallFraction.format(n) : wholeAndCents.format(n);
}

/** The UTC calendar date: "December 1, 2026". */
export function formatDate(ts: number): string {
  const d = new Date(ts);
  return `${monthName(ts)} ${d.getUTCDate()}, ${d.getUTCFullYear()}`;
}

/** "Storage" -> "storage" mid-sentence, but "API calls" keeps its acronym. */
function inSentence(label: string): string {
  const second = label.charAt(1);
  return second !== '' && second === second.toLowerCase()
    ? label.charAt(0).toLowerCase() + label.slice(1)
    : label;
}

/** How an amount of a metric reads: "150,000 API calls" (label names the unit) or "12 GB of storage". */
function amountWithLabel(info: MetricInfo, amount: string): string {
  const label = inSentence(info.label);
  if (info.unit === '' || label.toLowerCase().endsWith(info.unit.toLowerCase())) return `${amount} ${label}`;
  return `${amount} ${info.unit} of ${label}`;
}

/** How a bare amount reads once the metric was named: "100,000" or "10 GB". */
function amountAlone(info: MetricInfo, amount: string): string {
  const label = inSentence(info.label);
  if (info.unit === '' || label.toLowerCase().endsWith(info.unit.toLowerCase())) return amount;
  return `${amount} ${info.unit}`;
}

function describeExceeded(catalog: PlanCatalog, target: Plan, e: ExceededLimit): string {
  const info = metricLabel(catalog, e.metric);
  const limit = formatQuantity(e.targetLimit);
  if (e.used > e.targetLimit) {
    // 100000.001 would print as "100,000", the same as the limit; say "more than" instead.
    const used = formatQuantity(e.used) === limit ? `more than ${limit}` : formatQuantity(e.used);
    return `you have used ${amountWithLabel(info, used)} this month and ${target.displayName} includes ${amountAlone(info, limit)}`;
  }
  const projected = formatQuantity(e.projected ?? e.used);
  return (
    `you have used ${amountWithLabel(info, formatQuantity(e.used))} this month and at this pace will reach about ` +
    `${amountAlone(info, projected)} by the end of the month, while ${target.displayName} includes ${amountAlone(info, limit)}`
  );
}

/**
 * Whether the resource may move from `currentPlan` to `targetPlan` now. A move to a higher or equal rank is
 * always allowed. A move down is refused when, for a metric the target plan limits, this period's usage is
 * already above the target's limit, or (once `projectionMinElapsedFraction` of the period has passed) the
 * projected usage is above the target's limit times `projectionMargin`. A refusal names each metric, the
 * usage, the target's limit and the date from which the downgrade will be accepted (the next period).
 */
export function downgradeCheck(input: DowngradeInput): DowngradeDecision {
  const { catalog, currentPlan, targetPlan, usage, period, now, activeFrom } = input;
  const rule = { ...DEFAULT_DOWNGRADE_RULE, ...input.rule };
  if (targetPlan.rank >= currentPlan.rank) {
    return {
      allowed: true,
      exceeded: [],
      message: `You can move to the ${targetPlan.displayName} plan.`,
      allowedFrom: null,
    };
  }

  const from = activeStart(period, activeFrom);
  const activeSpan = period.end - from;
  const elapsedFraction = activeSpan > 0 ? (Math.min(now, period.end) - from) / activeSpan : 0;
  const projectionCounts = elapsedFraction >= rule.projectionMinElapsedFraction;

  const exceeded: ExceededLimit[] = [];
  for (const [metric, targetLimit] of Object.entries(targetPlan.limits)) {
    const used = usage[metric] ?? 0;
    const projected = projectUsage(used, period, now, activeFrom);
    const over = used > targetLimit;
    const onPaceToBeOver =
      projectionCounts && projected !== null && projected > targetLimit * rule.projectionMargin;
    if (over || onPaceToBeOver) exceeded.push({ metric, used, targetLimit, projected });
  }

  if (exceeded.length === 0) {
    return {
      allowed: true,
      exceeded,
      message: `You can move to the ${targetPlan.displayName} plan: your usage this month fits its limits.`,
      allowedFrom: null,
    };
  }
  const reasons = exceeded.map((e) => describeExceeded(catalog, targetPlan, e)).join('; ');
  return {
    allowed: false,
    exceeded,
    message:
      `You can't move to the ${targetPlan.displayName} plan yet: ${reasons}. ` +
      `You can downgrade from ${formatDate(period.end)}, when your monthly usage resets.`,
    allowedFrom: period.end,
  };
}

export interface PlanFlagState {
  downgradeBlocked: boolean;
  /** The lower plans the resource may not move to now, highest rank first. */
  blockedPlans: string[];
  /** The customer-facing explanation; empty when nothing is blocked. */
  reason: string;
  /** When the block lifts at the latest. */
  periodEnd: number;
}

export interface PlanFlagInput {
  catalog: PlanCatalog;
  currentPlan: Plan;
  usage: Record<string, number>;
  period: Period;
  now: number;
  activeFrom?: number;
  rule?: Partial<DowngradeRule>;
}

/** The downgrade-block flag of a resource: every lower plan that downgradeCheck refuses now. */
export function computePlanFlag(input: PlanFlagInput): PlanFlagState {
  const { catalog, currentPlan, ...rest } = input;
  const refusals = lowerPlans(catalog, currentPlan)
    .map((targetPlan) => ({
      targetPlan,
      decision: downgradeCheck({ catalog, currentPlan, targetPlan, ...rest }),
    }))
    .filter(({ decision }) => !decision.allowed);

  const [highest, ...others] = refusals;
  let reason = highest?.decision.message ?? '';
  if (others.length > 0) {
    const names = others.map(({ targetPlan }) => targetPlan.displayName);
    const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
    // Lower plans may be blocked by other metrics; every block lifts at the same period end.
    reason += ` You can't move to the ${list} plan${names.length > 1 ? 's' : ''} before then either.`;
  }
  return {
    downgradeBlocked: refusals.length > 0,
    blockedPlans: refusals.map(({ targetPlan }) => targetPlan.name),
    reason,
    periodEnd: input.period.end,
  };
}
