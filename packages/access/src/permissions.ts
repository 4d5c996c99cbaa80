/** What a company user may do, company-wide (Heroku's company-user permissions, ADR 0014). */
export const PERMISSIONS = {
  manage_users: 'Add and remove company users and partner employees, and change their permissions',
  support: 'View and answer support, and get escalation emails',
  billing: 'See marketing and billing information',
  oauth_secret: 'View and reset the OAuth secret',
  install_plans: 'Install public and hidden (test) plans',
  clients: "See each client's assigned partner employees, and assign them",
  api_keys: 'Create and revoke API keys',
} as const;

export type Permission = keyof typeof PERMISSIONS;

export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}

/** The person signed in to the console, as far as access goes. */
export interface Viewer {
  accountId: string;
  email: string;
  name: string;
  /** null: not a company user (or removed) */
  company: { superAdmin: boolean; permissions: Permission[] } | null;
  /** The clients a partner employee sees: assigned by the partner side and granted by the client. */
  clientIds: string[];
}

/** Whether the viewer holds the permission: a super admin holds every one. */
export function can(viewer: Viewer, permission: Permission): boolean {
  return (
    viewer.company !== null && (viewer.company.superAdmin || viewer.company.permissions.includes(permission))
  );
}

/**
 * Which clients' resources the viewer may see: every client for a company user, the clients granted on
 * both halves for a partner employee, none for anyone else. The queries take it (`owner_id = ANY(...)`).
 */
export type ClientScope = { all: true } | { all: false; clientIds: string[] };

export function scopeOf(viewer: Viewer): ClientScope {
  return viewer.company ? { all: true } : { all: false, clientIds: viewer.clientIds };
}
