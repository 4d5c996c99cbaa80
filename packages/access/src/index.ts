/** The owner of the tables about the provider's people and who may see what (ADR 0014): accounts,
 * company users, partners and their employees, client assignments and grants, hidden-plan installs,
 * console sessions, API keys, the audit log; and the customer dashboard's SSO sessions. */
export { API_KEY_SCOPES, type ApiKey, type ApiKeyScope, ApiKeys } from './api-keys.ts';
export { type Actor, type AuditEntry, AuditLog } from './audit.ts';
export { type ConsoleSession, ConsoleSessions, csrfMatches } from './console-sessions.ts';
export {
  ALL_PERMISSIONS,
  type ClientScope,
  can,
  isPermission,
  PERMISSIONS,
  type Permission,
  scopeOf,
  type Viewer,
} from './permissions.ts';
export { type DashboardSession, SessionStore } from './sessions.ts';
export {
  AccessRefusal,
  type Account,
  type ClientAssignment,
  CONFLICT_MESSAGE,
  type CompanyUser,
  type HiddenPlanInstall,
  NO_ACCOUNT_MESSAGE,
  type PartnerEmployee,
  TeamAccess,
} from './team.ts';
