import { inTransaction, type Pool, type PoolClient } from '@meterline/db';
import { type Actor, audit } from './audit.ts';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.ts';
import { isPermission, type Permission, type Viewer } from './permissions.ts';

/** A request the rules refuse; `message` is said to the person as it is (the console shows it, the
 * JSON API answers it with a 4xx). */
export class AccessRefusal extends Error {
  constructor(
    readonly code: 'no-account' | 'conflict' | 'not-found' | 'invalid' | 'exists',
    message: string,
  ) {
    super(message);
    this.name = 'AccessRefusal';
  }
}

/** The page's words (Heroku's company-users page): an email must have an account before it is added. */
export const NO_ACCOUNT_MESSAGE = (email: string) =>
  `${email} doesn't have an account associated with it yet. Ask them to create one first (Sign up on the console), then add them again.`;

/** HubSpot's message and the three ways out it lists. */
export const CONFLICT_MESSAGE = (email: string, client: string) =>
  `Their email address (${email}) is already connected with another partner record for this client (${client}). ` +
  'To resolve it: 1. ask the other partner to remove this person from the client in their partner account; ' +
  '2. create a new email address for this person on your partner email domain and add that one as the partner employee; ' +
  '3. ask the person for another email address.';

export interface Account {
  id: string;
  email: string;
  name: string;
  disabled: boolean;
}

export interface CompanyUser extends Account {
  superAdmin: boolean;
  permissions: Permission[];
  alertsSubscribed: boolean;
  addedAt: number;
  addedBy: string | null;
}

export interface PartnerEmployee extends Account {
  partner: string;
  addedAt: number;
}

/** A partner employee's access to a client: the partner half, and whether the client granted it. */
export interface ClientAssignment {
  id: string;
  clientId: string;
  partner: string;
  accountId: string;
  email: string;
  name: string;
  assignedAt: number;
  /** false: "pending client approval" */
  granted: boolean;
}

/** A hidden- or test-plan resource with who installed it, and whether that person is still a company user. */
export interface HiddenPlanInstall {
  resourceId: string;
  plan: string;
  installedBy: string;
  installedAt: number;
  /** the installer is no company user any more */
  orphaned: boolean;
}

const normal = (email: string) => email.trim().toLowerCase();
const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

type Queryable = Pick<Pool | PoolClient, 'query'>;

/**
 * The provider's people and who may see what (ADR 0014): accounts, company users with their
 * permissions, partner employees and their client assignments (the partner half), the clients' grants
 * (the client half), and the hidden-plan installs. Every change is audited in its own transaction.
 */
export class TeamAccess {
  constructor(private readonly pool: Pool) {}

  // --- accounts

  /** Creates an account (what a person does for themself: it grants nothing by itself). */
  async createAccount(
    input: { email: string; name: string; password: string },
    actor: Actor | null,
  ): Promise<Account> {
    const email = normal(input.email);
    if (!EMAIL.test(email)) throw new AccessRefusal('invalid', `"${input.email}" is not an email address.`);
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200)
      throw new AccessRefusal('invalid', 'A name of 1 to 200 characters is needed.');
    const problem = passwordProblem(input.password);
    if (problem) throw new AccessRefusal('invalid', problem);
    const hash = await hashPassword(input.password);
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `INSERT INTO accounts (email, name, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash, name = excluded.name
           WHERE accounts.password_hash IS NULL
         RETURNING id::text`,
        [email, name, hash],
      );
      if (rows.length === 0)
        throw new AccessRefusal('exists', `An account for ${email} exists already: sign in instead.`);
      await audit(client, actor ?? { accountId: rows[0].id, email, ip: null }, 'account.create', email);
      return { id: rows[0].id, email, name, disabled: false };
    });
  }

  /** The account whose password this is, or null (wrong, unknown, disabled or never set: the same answer). */
  async checkPassword(email: string, password: string): Promise<Account | null> {
    const { rows } = await this.pool.query(
      'SELECT id::text, email, name, password_hash, disabled_at FROM accounts WHERE email = $1',
      [normal(email)],
    );
    const r = rows[0];
    const ok = await verifyPassword(password, r?.password_hash ?? null);
    if (!ok || !r || r.disabled_at) return null;
    return { id: r.id, email: r.email, name: r.name, disabled: false };
  }

  async accountByEmail(email: string, db: Queryable = this.pool): Promise<Account | null> {
    const { rows } = await db.query(
      'SELECT id::text, email, name, disabled_at FROM accounts WHERE email = $1',
      [normal(email)],
    );
    return rows[0]
      ? { id: rows[0].id, email: rows[0].email, name: rows[0].name, disabled: rows[0].disabled_at !== null }
      : null;
  }

  /** What the console needs to know about a signed-in account: company permissions and the clients it sees. */
  async viewer(accountId: string): Promise<Viewer | null> {
    const { rows } = await this.pool.query(
      `SELECT a.id::text, a.email, a.name, c.super_admin, c.permissions,
              (c.account_id IS NOT NULL AND c.removed_at IS NULL) AS company
       FROM accounts a LEFT JOIN company_users c ON c.account_id = a.id
       WHERE a.id = $1 AND a.disabled_at IS NULL`,
      [accountId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      accountId: r.id,
      email: r.email,
      name: r.name,
      company: r.company
        ? { superAdmin: r.super_admin, permissions: r.permissions.filter(isPermission) }
        : null,
      clientIds: await this.grantedClients(accountId),
    };
  }

  // --- company users

  async companyUsers(): Promise<CompanyUser[]> {
    const { rows } = await this.pool.query(
      `SELECT a.id::text, a.email, a.name, a.disabled_at, c.super_admin, c.permissions, c.alerts_subscribed, c.added_at,
              b.email AS added_by
       FROM company_users c JOIN accounts a ON a.id = c.account_id LEFT JOIN accounts b ON b.id = c.added_by
       WHERE c.removed_at IS NULL ORDER BY a.email`,
    );
    return rows.map((r) => ({
      id: r.id,
      email: r.email,
      name: r.name,
      disabled: r.disabled_at !== null,
      superAdmin: r.super_admin,
      permissions: r.permissions.filter(isPermission),
      alertsSubscribed: r.alerts_subscribed,
      addedAt: r.added_at.getTime(),
      addedBy: r.added_by,
    }));
  }

  /** Adds (or re-adds) a company user; the email must have an account already (the page's rule). */
  async addCompanyUser(
    input: { email: string; permissions: Permission[]; superAdmin?: boolean; alertsSubscribed?: boolean },
    actor: Actor,
  ): Promise<CompanyUser> {
    const email = normal(input.email);
    return inTransaction(this.pool, async (client) => {
      const account = await this.accountByEmail(email, client);
      if (!account) throw new AccessRefusal('no-account', NO_ACCOUNT_MESSAGE(email));
      await client.query(
        `INSERT INTO company_users (account_id, super_admin, permissions, alerts_subscribed, added_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account_id) DO UPDATE SET super_admin = excluded.super_admin, permissions = excluded.permissions,
           alerts_subscribed = excluded.alerts_subscribed, added_by = excluded.added_by, added_at = now(), removed_at = NULL`,
        [
          account.id,
          input.superAdmin ?? false,
          input.permissions,
          input.alertsSubscribed ?? false,
          actor.accountId,
        ],
      );
      await audit(client, actor, 'company_user.add', email, {
        permissions: input.permissions,
        superAdmin: input.superAdmin ?? false,
      });
      return {
        ...account,
        superAdmin: input.superAdmin ?? false,
        permissions: input.permissions,
        alertsSubscribed: input.alertsSubscribed ?? false,
        addedAt: Date.now(),
        addedBy: actor.email,
      };
    });
  }

  async setPermissions(email: string, permissions: Permission[], actor: Actor): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query(
        `UPDATE company_users SET permissions = $2
         WHERE account_id = (SELECT id FROM accounts WHERE email = $1) AND removed_at IS NULL`,
        [normal(email), permissions],
      );
      if (!rowCount) throw new AccessRefusal('not-found', `${normal(email)} is not a company user.`);
      await audit(client, actor, 'company_user.permissions', normal(email), { permissions });
    });
  }

  /** Revokes a company user: their sessions end at once; the hidden-plan resources they installed stay. */
  async removeCompanyUser(email: string, actor: Actor): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `UPDATE company_users SET removed_at = now()
         WHERE account_id = (SELECT id FROM accounts WHERE email = $1) AND removed_at IS NULL RETURNING account_id`,
        [normal(email)],
      );
      if (rows.length === 0) throw new AccessRefusal('not-found', `${normal(email)} is not a company user.`);
      await endSessionsUnlessStillStaff(client, rows[0].account_id);
      await audit(client, actor, 'company_user.remove', normal(email));
    });
  }

  /** Whether this email is a company user holding the permission (a super admin holds all). */
  async companyUserMay(email: string, permission: Permission): Promise<boolean> {
    const { rows } = await this.pool.query(
      `SELECT 1 FROM company_users c JOIN accounts a ON a.id = c.account_id
       WHERE a.email = $1 AND c.removed_at IS NULL AND a.disabled_at IS NULL AND (c.super_admin OR $2 = ANY(c.permissions))`,
      [normal(email), permission],
    );
    return rows.length > 0;
  }

  /** Company users who get CRITICAL alerts by email. */
  async alertSubscribers(): Promise<{ email: string; name?: string }[]> {
    const { rows } = await this.pool.query<{ email: string; name: string }>(
      `SELECT a.email, a.name FROM company_users c JOIN accounts a ON a.id = c.account_id
       WHERE c.alerts_subscribed AND c.removed_at IS NULL AND a.disabled_at IS NULL ORDER BY a.email`,
    );
    return rows.map((r) => ({ email: r.email, name: r.name }));
  }

  // --- partner employees

  async partnerEmployees(): Promise<PartnerEmployee[]> {
    const { rows } = await this.pool.query(
      `SELECT a.id::text, a.email, a.name, a.disabled_at, p.name AS partner, e.added_at
       FROM partner_employees e JOIN accounts a ON a.id = e.account_id JOIN partners p ON p.id = e.partner_id
       WHERE e.removed_at IS NULL ORDER BY p.name, a.email`,
    );
    return rows.map((r) => ({
      id: r.id,
      email: r.email,
      name: r.name,
      disabled: r.disabled_at !== null,
      partner: r.partner,
      addedAt: r.added_at.getTime(),
    }));
  }

  /** Marks an account as an employee of a partner (created if new); the email must have an account. */
  async addPartnerEmployee(input: { email: string; partner: string }, actor: Actor): Promise<void> {
    const email = normal(input.email);
    const partner = input.partner.trim();
    if (partner.length === 0 || partner.length > 200)
      throw new AccessRefusal('invalid', 'A partner name of 1 to 200 characters is needed.');
    await inTransaction(this.pool, async (client) => {
      const account = await this.accountByEmail(email, client);
      if (!account) throw new AccessRefusal('no-account', NO_ACCOUNT_MESSAGE(email));
      const p = await client.query(
        `INSERT INTO partners (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`,
        [partner],
      );
      await client.query(
        `INSERT INTO partner_employees (partner_id, account_id, added_by) VALUES ($1, $2, $3)
         ON CONFLICT (partner_id, account_id) DO UPDATE SET removed_at = NULL, added_by = excluded.added_by, added_at = now()`,
        [p.rows[0].id, account.id, actor.accountId],
      );
      await audit(client, actor, 'partner_employee.add', email, { partner });
    });
  }

  /** Removes a person from a partner: every client assignment of theirs through it ends at once. */
  async removePartnerEmployee(input: { email: string; partner: string }, actor: Actor): Promise<number> {
    const email = normal(input.email);
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `UPDATE partner_employees e SET removed_at = now() FROM partners p, accounts a
         WHERE p.id = e.partner_id AND a.id = e.account_id AND p.name = $1 AND a.email = $2 AND e.removed_at IS NULL
         RETURNING e.partner_id, e.account_id`,
        [input.partner.trim(), email],
      );
      if (rows.length === 0)
        throw new AccessRefusal('not-found', `${email} is not an employee of ${input.partner.trim()}.`);
      const ended = await client.query(
        `UPDATE client_assignments SET removed_at = now(), removed_by = $3
         WHERE partner_id = $1 AND account_id = $2 AND removed_at IS NULL RETURNING client_id`,
        [rows[0].partner_id, rows[0].account_id, actor.accountId],
      );
      await endSessionsUnlessStillStaff(client, rows[0].account_id);
      await audit(client, actor, 'partner_employee.remove', email, {
        partner: input.partner.trim(),
        clientsRevoked: ended.rows.map((r) => r.client_id),
      });
      return ended.rowCount ?? 0;
    });
  }

  // --- client assignments (the partner half) and grants (the client half)

  /**
   * Assigns a partner employee to clients, in bulk. Each client is assigned or refused on its own: a client
   * whose assignment this email already has through another partner record answers the conflict message.
   */
  async assign(
    input: { email: string; partner: string; clients: { id: string; name: string }[] },
    actor: Actor,
  ): Promise<{ clientId: string; ok: boolean; message: string }[]> {
    const email = normal(input.email);
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        `SELECT e.partner_id, e.account_id FROM partner_employees e JOIN partners p ON p.id = e.partner_id
         JOIN accounts a ON a.id = e.account_id WHERE p.name = $1 AND a.email = $2 AND e.removed_at IS NULL`,
        [input.partner.trim(), email],
      );
      if (rows.length === 0)
        throw new AccessRefusal(
          'not-found',
          `${email} is not an employee of ${input.partner.trim()}: mark them first.`,
        );
      const { partner_id: partnerId, account_id: accountId } = rows[0];
      const out: { clientId: string; ok: boolean; message: string }[] = [];
      for (const c of input.clients) {
        const held = await client.query(
          `SELECT partner_id FROM client_assignments WHERE client_id = $1 AND email = $2 AND removed_at IS NULL`,
          [c.id, email],
        );
        if (held.rows[0] && String(held.rows[0].partner_id) !== String(partnerId)) {
          out.push({ clientId: c.id, ok: false, message: CONFLICT_MESSAGE(email, c.name) });
          await audit(client, actor, 'assignment.conflict', c.id, { email, partner: input.partner.trim() });
          continue;
        }
        if (!held.rows[0]) {
          await client.query(
            `INSERT INTO client_assignments (client_id, partner_id, account_id, email, assigned_by) VALUES ($1, $2, $3, $4, $5)`,
            [c.id, partnerId, accountId, email, actor.accountId],
          );
          await audit(client, actor, 'assignment.add', c.id, {
            email,
            partner: input.partner.trim(),
            client: c.name,
          });
        }
        out.push({ clientId: c.id, ok: true, message: `${email} is assigned to ${c.name}.` });
      }
      return out;
    });
  }

  /** Ends one partner employee's assignment to one client; the person confirmed by typing the client's name. */
  async unassign(
    input: { email: string; client: { id: string; name: string }; confirmation: string },
    actor: Actor,
  ): Promise<void> {
    if (input.confirmation.trim() !== input.client.name)
      throw new AccessRefusal(
        'invalid',
        `Type the client's name (${input.client.name}) to confirm the removal.`,
      );
    await inTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query(
        `UPDATE client_assignments SET removed_at = now(), removed_by = $3
         WHERE client_id = $1 AND email = $2 AND removed_at IS NULL`,
        [input.client.id, normal(input.email), actor.accountId],
      );
      if (!rowCount)
        throw new AccessRefusal(
          'not-found',
          `${normal(input.email)} is not assigned to ${input.client.name}.`,
        );
      await audit(client, actor, 'assignment.remove', input.client.id, {
        email: normal(input.email),
        client: input.client.name,
      });
    });
  }

  /** The partner employees assigned to a client, with whether the client granted each. */
  async assignmentsOf(clientId: string): Promise<ClientAssignment[]> {
    return this.assignments('a.client_id = $1', [clientId]);
  }

  /** A partner employee's assignments, to every client. */
  async assignmentsOfAccount(accountId: string): Promise<ClientAssignment[]> {
    return this.assignments('a.account_id = $1', [accountId]);
  }

  private async assignments(where: string, params: unknown[]): Promise<ClientAssignment[]> {
    const { rows } = await this.pool.query(
      `SELECT a.id::text, a.client_id, p.name AS partner, a.account_id::text, a.email, acc.name, a.assigned_at,
              (g.client_id IS NOT NULL) AS granted
       FROM client_assignments a JOIN partners p ON p.id = a.partner_id JOIN accounts acc ON acc.id = a.account_id
       LEFT JOIN client_grants g ON g.client_id = a.client_id AND g.email = a.email AND g.revoked_at IS NULL
       WHERE a.removed_at IS NULL AND ${where} ORDER BY a.client_id, a.email`,
      params,
    );
    return rows.map((r) => ({
      id: r.id,
      clientId: r.client_id,
      partner: r.partner,
      accountId: r.account_id,
      email: r.email,
      name: r.name,
      assignedAt: r.assigned_at.getTime(),
      granted: r.granted,
    }));
  }

  /** The client side allows this email into its space (its owner or admin, from the customer dashboard). */
  async grant(clientId: string, email: string, grantedBy: string): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO client_grants (client_id, email, granted_by) VALUES ($1, $2, $3)
         ON CONFLICT (client_id, email) DO UPDATE SET granted_by = excluded.granted_by, granted_at = now(), revoked_at = NULL`,
        [clientId, normal(email), normal(grantedBy)],
      );
      await audit(client, { accountId: null, email: normal(grantedBy), ip: null }, 'grant.add', clientId, {
        email: normal(email),
      });
    });
  }

  async revokeGrant(clientId: string, email: string, revokedBy: string): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        'UPDATE client_grants SET revoked_at = now() WHERE client_id = $1 AND email = $2 AND revoked_at IS NULL',
        [clientId, normal(email)],
      );
      await audit(client, { accountId: null, email: normal(revokedBy), ip: null }, 'grant.revoke', clientId, {
        email: normal(email),
      });
    });
  }

  /** The clients a partner employee sees: an active employee record, an assignment and the client's grant. */
  async grantedClients(accountId: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ client_id: string }>(
      `SELECT DISTINCT a.client_id FROM client_assignments a
       JOIN partner_employees e ON e.partner_id = a.partner_id AND e.account_id = a.account_id AND e.removed_at IS NULL
       JOIN client_grants g ON g.client_id = a.client_id AND g.email = a.email AND g.revoked_at IS NULL
       JOIN accounts acc ON acc.id = a.account_id AND acc.disabled_at IS NULL
       WHERE a.account_id = $1 AND a.removed_at IS NULL ORDER BY a.client_id`,
      [accountId],
    );
    return rows.map((r) => r.client_id);
  }

  // --- hidden- and test-plan installs

  async recordHiddenInstall(resourceId: string, plan: string, installerEmail: string): Promise<void> {
    await this.pool.query(
      `INSERT INTO hidden_plan_installs (resource_id, plan, account_id)
       SELECT $1, $2, id FROM accounts WHERE email = $3 ON CONFLICT (resource_id) DO NOTHING`,
      [resourceId, plan, normal(installerEmail)],
    );
  }

  async hiddenInstalls(): Promise<HiddenPlanInstall[]> {
    const { rows } = await this.pool.query(
      `SELECT h.resource_id::text, h.plan, a.email, h.installed_at,
              NOT EXISTS (SELECT 1 FROM company_users c WHERE c.account_id = h.account_id AND c.removed_at IS NULL) AS orphaned
       FROM hidden_plan_installs h JOIN accounts a ON a.id = h.account_id ORDER BY h.installed_at DESC`,
    );
    return rows.map((r) => ({
      resourceId: r.resource_id,
      plan: r.plan,
      installedBy: r.email,
      installedAt: r.installed_at.getTime(),
      orphaned: r.orphaned,
    }));
  }
}

/** A person who is neither a company user nor an active partner employee any more has no console left:
 * their sessions end now (a logout they did not ask for). */
async function endSessionsUnlessStillStaff(client: PoolClient, accountId: string): Promise<void> {
  await client.query(
    `UPDATE console_sessions SET revoked_at = now()
     WHERE account_id = $1 AND revoked_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM company_users WHERE account_id = $1 AND removed_at IS NULL)
       AND NOT EXISTS (SELECT 1 FROM partner_employees WHERE account_id = $1 AND removed_at IS NULL)`,
    [accountId],
  );
}
