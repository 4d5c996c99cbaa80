import { ALERT_SEVERITIES, type AlertSeverity } from './alert.ts';

export type AccessRole = 'owner' | 'admin' | 'member' | 'collaborator' | 'viewer';
export const ACCESS_ROLES: readonly AccessRole[] = ['owner', 'admin', 'member', 'collaborator', 'viewer'];

/** Person with access to the customer's app, as the Platform API reports them. */
export interface AccessEntry {
  email: string;
  name?: string;
  role: AccessRole;
}

export interface Person {
  email: string;
  name?: string;
}

export interface Recipient extends Person {
  /** Why this person receives the email, for the delivery record and the logs. */
  reason: string;
}

/** Which roles of the app's access list receive each severity; 'all' is every role. */
export type RecipientPolicy = Record<AlertSeverity, readonly AccessRole[] | 'all'>;

export const DEFAULT_RECIPIENT_POLICY: RecipientPolicy = {
  INFO: ['owner', 'admin'],
  WARNING: ['owner', 'admin'],
  CRITICAL: 'all',
};

const RECIPIENT_POLICY_VARIABLE = 'ALERT_RECIPIENTS';

export class RecipientPolicyError extends Error {
  readonly variable = RECIPIENT_POLICY_VARIABLE;
  constructor(problem: string) {
    super(`${RECIPIENT_POLICY_VARIABLE}: ${problem}`);
    this.name = 'RecipientPolicyError';
  }
}

/**
 * Parses ALERT_RECIPIENTS, e.g. "INFO=owner,admin;WARNING=owner,admin;CRITICAL=all". A severity not
 * named keeps its default; "none" sends that severity to contacts (and, for CRITICAL, staff) only.
 * Unset or blank means the defaults. Throws a RecipientPolicyError naming the variable.
 */
export function parseRecipientPolicy(text: string | undefined): RecipientPolicy {
  const policy: RecipientPolicy = { ...DEFAULT_RECIPIENT_POLICY };
  if (text === undefined || text.trim() === '') return policy;
  const named = new Set<string>();
  for (const clause of text.split(';').map((c) => c.trim())) {
    if (clause === '') continue;
    const eq = clause.indexOf('=');
    if (eq < 0) throw new RecipientPolicyError(`"${clause}" is not SEVERITY=roles (e.g. CRITICAL=all)`);
    const severity = clause.slice(0, eq).trim().toUpperCase();
    if (!ALERT_SEVERITIES.includes(severity as AlertSeverity)) {
      throw new RecipientPolicyError(
        `unknown severity "${clause.slice(0, eq).trim()}" (expected ${ALERT_SEVERITIES.join(', ')})`,
      );
    }
    if (named.has(severity)) throw new RecipientPolicyError(`${severity} is given more than once`);
    named.add(severity);
    const roles = [
      ...new Set(
        clause
          .slice(eq + 1)
          .split(',')
          .map((r) => r.trim().toLowerCase())
          .filter((r) => r !== ''),
      ),
    ];
    if (roles.length === 0)
      throw new RecipientPolicyError(`${severity} names no role (use "none" for nobody)`);
    if (roles.includes('all') || roles.includes('none')) {
      if (roles.length > 1) throw new RecipientPolicyError(`${severity}: "all" and "none" stand alone`);
      policy[severity as AlertSeverity] = roles[0] === 'all' ? 'all' : [];
      continue;
    }
    const unknown = roles.find((r) => !ACCESS_ROLES.includes(r as AccessRole));
    if (unknown !== undefined) {
      throw new RecipientPolicyError(
        `unknown role "${unknown}" for ${severity} (expected ${ACCESS_ROLES.join(', ')}, all or none)`,
      );
    }
    policy[severity as AlertSeverity] = roles as AccessRole[];
  }
  return policy;
}

/**
 * Who receives an alert of this severity: the app's people whose role the policy names, the contacts
 * the provider added to the resource (always), and subscribed staff (CRITICAL only). One entry per
 * address, compared case-insensitively; the first reason wins. Addresses are not checked here: pass
 * each through checkAddress before sending.
 */
export function chooseRecipients(input: {
  severity: AlertSeverity;
  access: readonly AccessEntry[];
  contacts: readonly Person[];
  staff: readonly Person[];
  policy: RecipientPolicy;
}): Recipient[] {
  const chosen = new Map<string, Recipient>();
  const add = (person: Person, reason: string) => {
    const email = person.email.trim();
    const key = email.toLowerCase();
    if (key === '') return;
    const already = chosen.get(key);
    if (already) {
      if (already.name === undefined && person.name) already.name = person.name;
      return;
    }
    chosen.set(key, person.name ? { email, name: person.name, reason } : { email, reason });
  };
  const roles = input.policy[input.severity];
  for (const entry of input.access) {
    if (roles === 'all' || roles.includes(entry.role)) add(entry, `${entry.role} of the app`);
  }
  for (const contact of input.contacts) add(contact, 'contact of the resource');
  if (input.severity === 'CRITICAL') {
    for (const member of input.staff) add(member, 'staff subscribed to critical alerts');
  }
  return [...chosen.values()];
}
