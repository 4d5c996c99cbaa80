/** The owner of the tables about the provider's people and who may see what: staff_users, and the
 * customer dashboard's SSO sessions (dashboard_sessions). */
export { type DashboardSession, SessionStore } from './sessions.ts';
export { StaffDirectory, type StaffMember } from './staff.ts';
