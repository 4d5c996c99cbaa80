/** The provision refusal policy (DESIGN rule 7): a pure decision over facts the api gathers. */

import { DAY, HOUR } from '@meterline/rules';

export interface ProvisionPolicy {
  /** N: more than N provision+deprovision cycles of one app or owner within the window is refused. */
  maxChurn: number;
  /** D */
  churnWindowDays: number;
  /** X: an earlier resource that used more than X% of its allowance ... */
  abuseUsedPercent: number;
  /** H: ... and was deprovisioned within H hours of being provisioned marks the app as abusive. */
  abuseWithinHours: number;
  /** Heroku region names accepted (`amazon-web-services::us-east-1` or just `us-east-1`); null = all. */
  supportedRegions: string[] | null;
}

export const defaultProvisionPolicy: ProvisionPolicy = {
  maxChurn: 3,
  churnWindowDays: 7,
  abuseUsedPercent: 80,
  abuseWithinHours: 48,
  supportedRegions: null,
};

export interface ProvisionHistoryEntry {
  resourceId: string;
  appId: string | null;
  ownerId: string | null;
  /** epoch milliseconds */
  provisionedAt: number;
  deprovisionedAt: number | null;
  /** highest % of any limited metric */
  maxUsedPercent: number;
}

export type ProvisionRefusalCode = 'unknown_plan' | 'hidden_plan' | 'region' | 'churn' | 'abuse';

export type ProvisionDecision =
  | { allowed: true }
  | { allowed: false; message: string; code: ProvisionRefusalCode };

export interface ProvisionFacts {
  plan: string;
  planExists: boolean;
  planHidden: boolean;
  requesterMayInstallHidden: boolean;
  region: string | null;
  appId: string | null;
  ownerId: string | null;
  history: ProvisionHistoryEntry[];
  /** epoch milliseconds */
  now: number;
  policy: ProvisionPolicy;
}

function regionSupported(region: string, supported: string[]): boolean {
  const short = region.includes('::') ? region.slice(region.lastIndexOf('::') + 2) : region;
  return supported.some((s) => s === region || s === short);
}

function formatHours(ms: number): string {
  const hours = ms / HOUR;
  return hours < 1 ? `${Math.max(1, Math.round(ms / 60_000))} minutes` : `${Math.round(hours)} hours`;
}

export function decideProvision(input: ProvisionFacts): ProvisionDecision {
  const { plan, region, appId, ownerId, history, now, policy } = input;

  if (!input.planExists) {
    return {
      allowed: false,
      code: 'unknown_plan',
      message: `There is no plan named "${plan}". Choose one of the plans listed on the add-on's marketplace page.`,
    };
  }
  if (input.planHidden && !input.requesterMayInstallHidden) {
    return {
      allowed: false,
      code: 'hidden_plan',
      message: `The plan "${plan}" is not publicly available. If you were offered this plan, contact support to have it enabled for your account; otherwise choose a public plan.`,
    };
  }
  if (
    region !== null &&
    policy.supportedRegions !== null &&
    !regionSupported(region, policy.supportedRegions)
  ) {
    return {
      allowed: false,
      code: 'region',
      message: `This add-on is not available in region ${region}. It runs in: ${policy.supportedRegions.join(', ')}. Create it for an app in one of those regions.`,
    };
  }

  const sameApp = (e: ProvisionHistoryEntry) => appId !== null && e.appId === appId;
  const sameOwner = (e: ProvisionHistoryEntry) => ownerId !== null && e.ownerId === ownerId;

  const windowMs = policy.churnWindowDays * DAY;
  const cycles = history
    .filter(
      (e) => (sameApp(e) || sameOwner(e)) && e.deprovisionedAt !== null && e.provisionedAt >= now - windowMs,
    )
    .map((e) => e.provisionedAt)
    .sort((a, b) => a - b);
  if (cycles.length > policy.maxChurn) {
    // The count falls back to N once the oldest (count - N) cycles have left the window.
    const liftsAt = new Date(cycles[cycles.length - policy.maxChurn - 1]! + windowMs);
    return {
      allowed: false,
      code: 'churn',
      message: `This app or its owner created and removed this add-on ${cycles.length} times in the last ${policy.churnWindowDays} days; the limit is ${policy.maxChurn}. You can create it again after ${liftsAt.toISOString()}, or contact support if you need it sooner.`,
    };
  }

  const abusive = history.find(
    (e) =>
      sameApp(e) &&
      e.deprovisionedAt !== null &&
      e.maxUsedPercent > policy.abuseUsedPercent &&
      e.deprovisionedAt - e.provisionedAt <= policy.abuseWithinHours * HOUR,
  );
  if (abusive && abusive.deprovisionedAt !== null) {
    return {
      allowed: false,
      code: 'abuse',
      message: `An earlier instance of this add-on on this app used ${Math.round(abusive.maxUsedPercent)}% of its plan's allowance and was removed ${formatHours(abusive.deprovisionedAt - abusive.provisionedAt)} after it was created. New instances on this app need a manual review: contact support and mention add-on ${abusive.resourceId}.`,
    };
  }

  return { allowed: true };
}

function envNumber(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  opts: { integer: boolean; min: number; minExclusive?: boolean },
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  const shapeOk = opts.integer ? /^\d+$/.test(raw) : /^\d+(\.\d+)?$/.test(raw);
  const rangeOk = opts.minExclusive ? value > opts.min : value >= opts.min;
  if (!shapeOk || !Number.isFinite(value) || !rangeOk) {
    const kind = opts.integer ? 'an integer' : 'a number';
    const bound = opts.minExclusive ? `greater than ${opts.min}` : `at least ${opts.min}`;
    throw new Error(`${name} must be ${kind} ${bound}, got "${raw}"`);
  }
  return value;
}

/** Reads the policy from the environment; unset variables take the defaults, malformed ones throw naming the variable. */
export function policyFromEnv(env: Record<string, string | undefined> = process.env): ProvisionPolicy {
  const regionsRaw = env.SUPPORTED_REGIONS?.trim();
  let supportedRegions: string[] | null = null;
  if (regionsRaw !== undefined && regionsRaw !== '' && regionsRaw !== '*') {
    supportedRegions = regionsRaw.split(',').map((r) => r.trim());
    if (supportedRegions.some((r) => r === '' || /\s/.test(r))) {
      throw new Error(
        `SUPPORTED_REGIONS must be a comma-separated list of region names (or * for all), got "${regionsRaw}"`,
      );
    }
  }
  return {
    maxChurn: envNumber(env, 'PROVISION_MAX_CHURN', defaultProvisionPolicy.maxChurn, {
      integer: true,
      min: 0,
    }),
    churnWindowDays: envNumber(env, 'PROVISION_CHURN_WINDOW_DAYS', defaultProvisionPolicy.churnWindowDays, {
      integer: false,
      min: 0,
      minExclusive: true,
    }),
    abuseUsedPercent: envNumber(
      env,
      'PROVISION_ABUSE_USED_PERCENT',
      defaultProvisionPolicy.abuseUsedPercent,
      {
        integer: false,
        min: 0,
      },
    ),
    abuseWithinHours: envNumber(
      env,
      'PROVISION_ABUSE_WITHIN_HOURS',
      defaultProvisionPolicy.abuseWithinHours,
      {
        integer: false,
        min: 0,
        minExclusive: true,
      },
    ),
    supportedRegions,
  };
}
