/** A small fetch-based client of the Heroku Platform API for Partners and of Heroku OAuth (id.heroku.com). */

export const PLATFORM_ACCEPT = 'application/vnd.heroku+json; version=3';

export class PlatformApiError extends Error {
  override readonly name = 'PlatformApiError';
  constructor(
    message: string,
    /** HTTP status, or null when no response came (network error, timeout). */
    readonly status: number | null,
    /** true when trying again later can help: 5xx, 429, network errors and timeouts. */
    readonly retryable: boolean,
    /** Heroku's error id, e.g. `unauthorized`, `not_found`. */
    readonly herokuId: string | null = null,
  ) {
    super(message);
  }
}

export interface OAuthTokens {
  accessToken: string;
  refreshToken: string;
  /** seconds, as Heroku sent it (about 8 h) */
  expiresIn: number;
  /** epoch milliseconds, computed from the client's clock */
  expiresAt: number;
  tokenType: string;
  userId: string | null;
}

export interface PlatformAddon {
  id: string;
  name: string;
  state: string;
  app: { id: string; name: string };
  plan: { id: string | null; name: string };
}

export interface PlatformApp {
  id: string;
  name: string;
  owner: { id: string; email: string };
  team: { id: string; name: string } | null;
}

export interface PlatformCollaborator {
  id: string;
  role: string | null;
  user: { id: string; email: string };
  permissions: string[];
}

export interface PlatformTeamMember {
  id: string;
  email: string;
  role: string | null;
  userId: string | null;
}

export interface ConfigVar {
  name: string;
  value: string | null;
}

export type AccessRole = 'owner' | 'admin' | 'member' | 'collaborator' | 'viewer';

export interface AccessEntry {
  email: string;
  userId: string | null;
  role: AccessRole;
}

export interface HerokuPlatform {
  /** Exchanges the provision request's `oauth_grant.code` (valid about 5 minutes) for this resource's tokens. */
  exchangeGrant(code: string): Promise<OAuthTokens>;
  refreshTokens(refreshToken: string): Promise<OAuthTokens>;
  getAddon(accessToken: string, addonId: string): Promise<PlatformAddon>;
  getApp(accessToken: string, appIdOrName: string): Promise<PlatformApp>;
  listCollaborators(accessToken: string, appIdOrName: string): Promise<PlatformCollaborator[]>;
  listTeamMembers(accessToken: string, teamIdOrName: string): Promise<PlatformTeamMember[]>;
  /** Sets config vars on the app without a restart; a null value removes the var. */
  updateAddonConfig(
    accessToken: string,
    addonId: string,
    config: Record<string, string | null>,
  ): Promise<ConfigVar[]>;
  /** Ends async provisioning successfully; Heroku restarts the app. */
  markProvisioned(accessToken: string, addonId: string): Promise<PlatformAddon>;
  /**
   * Marks the add-on deprovisioned. The end of async deprovisioning, and the refusal path of an async
   * provision (ADR 0003; that use is not confirmed by Heroku's docs). Authorization is gone afterwards.
   */
  markDeprovisioned(accessToken: string, addonId: string): Promise<PlatformAddon>;
  /** add-on -> app -> collaborators (+ team members when team-owned), as Heroku's "Syncing User Access" describes. */
  accessList(accessToken: string, addonId: string): Promise<AccessEntry[]>;
}

export interface PlatformClientOptions {
  /** HEROKU_API_URL, e.g. https://api.heroku.com */
  apiUrl: string;
  /** HEROKU_ID_URL, e.g. https://id.heroku.com */
  idUrl: string;
  /** HEROKU_OAUTH_CLIENT_SECRET */
  clientSecret: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown, what: string): string {
  if (typeof value !== 'string')
    throw new PlatformApiError(`unexpected Heroku response: ${what} is missing`, 200, false);
  return value;
}

function strOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function obj(value: unknown, what: string): Json {
  if (!isObject(value))
    throw new PlatformApiError(`unexpected Heroku response: ${what} is missing`, 200, false);
  return value;
}

function arr(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value))
    throw new PlatformApiError(`unexpected Heroku response: ${what} is not a list`, 200, false);
  return value;
}

function toAddon(body: unknown): PlatformAddon {
  const b = obj(body, 'add-on');
  const app = obj(b.app, 'add-on app');
  const plan = isObject(b.plan) ? b.plan : {};
  return {
    id: str(b.id, 'add-on id'),
    name: str(b.name, 'add-on name'),
    state: str(b.state, 'add-on state'),
    app: { id: str(app.id, 'add-on app id'), name: str(app.name, 'add-on app name') },
    plan: { id: strOrNull(plan.id), name: strOrNull(plan.name) ?? '' },
  };
}

function toApp(body: unknown): PlatformApp {
  const b = obj(body, 'app');
  const owner = obj(b.owner, 'app owner');
  const team = isObject(b.team) ? b.team : null;
  return {
    id: str(b.id, 'app id'),
    name: str(b.name, 'app name'),
    owner: { id: str(owner.id, 'app owner id'), email: str(owner.email, 'app owner email') },
    team: team ? { id: str(team.id, 'team id'), name: str(team.name, 'team name') } : null,
  };
}

function toCollaborator(body: unknown): PlatformCollaborator {
  const b = obj(body, 'collaborator');
  const user = obj(b.user, 'collaborator user');
  const permissions = Array.isArray(b.permissions)
    ? b.permissions.flatMap((p) => (isObject(p) && typeof p.name === 'string' ? [p.name] : []))
    : [];
  return {
    id: str(b.id, 'collaborator id'),
    role: strOrNull(b.role),
    user: { id: str(user.id, 'collaborator user id'), email: str(user.email, 'collaborator email') },
    permissions,
  };
}

function toTeamMember(body: unknown): PlatformTeamMember {
  const b = obj(body, 'team member');
  const user = isObject(b.user) ? b.user : {};
  return {
    id: str(b.id, 'team member id'),
    email: str(b.email ?? user.email, 'team member email'),
    role: strOrNull(b.role),
    userId: strOrNull(user.id),
  };
}

async function errorFromResponse(res: Response, operation: string): Promise<PlatformApiError> {
  let herokuId: string | null = null;
  let detail = '';
  try {
    const body: unknown = await res.json();
    if (isObject(body)) {
      herokuId = strOrNull(body.id) ?? strOrNull(body.error);
      detail = strOrNull(body.message) ?? strOrNull(body.error_description) ?? '';
    }
  } catch {
    // A body that is not JSON adds nothing beyond the status.
  }
  const retryable = res.status >= 500 || res.status === 429;
  return new PlatformApiError(
    `${operation} failed: HTTP ${res.status}${detail ? ` (${detail})` : ''}`,
    res.status,
    retryable,
    herokuId,
  );
}

export function createPlatformClient(options: PlatformClientOptions): HerokuPlatform {
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  const idUrl = options.idUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;

  async function send(operation: string, url: string, init: RequestInit): Promise<unknown> {
    let res: Response;
    try {
      res = await doFetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new PlatformApiError(`${operation} failed: ${reason}`, null, true);
    }
    if (!res.ok) throw await errorFromResponse(res, operation);
    if (res.status === 204) return null;
    try {
      return await res.json();
    } catch {
      throw new PlatformApiError(`${operation} failed: the response is not JSON`, res.status, false);
    }
  }

  function api(operation: string, method: string, path: string, accessToken: string, body?: unknown) {
    const headers: Record<string, string> = {
      Accept: PLATFORM_ACCEPT,
      Authorization: `Bearer ${accessToken}`,
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    return send(operation, `${apiUrl}${path}`, init);
  }

  async function token(operation: string, form: Record<string, string>): Promise<OAuthTokens> {
    const body = obj(
      await send(operation, `${idUrl}/oauth/token`, {
        method: 'POST',
        headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      }),
      'token response',
    );
    const expiresIn = typeof body.expires_in === 'number' ? body.expires_in : 28_800;
    return {
      accessToken: str(body.access_token, 'access_token'),
      // Heroku may or may not rotate the refresh token; keep the old one when none comes back.
      refreshToken: strOrNull(body.refresh_token) ?? form.refresh_token ?? '',
      expiresIn,
      expiresAt: now() + expiresIn * 1000,
      tokenType: strOrNull(body.token_type) ?? 'Bearer',
      userId: strOrNull(body.user_id),
    };
  }

  const enc = encodeURIComponent;

  const client: HerokuPlatform = {
    exchangeGrant: (code) =>
      token('OAuth grant exchange', {
        grant_type: 'authorization_code',
        code,
        client_secret: options.clientSecret,
      }),
    refreshTokens: (refreshToken) =>
      token('OAuth token refresh', {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_secret: options.clientSecret,
      }),
    getAddon: async (t, addonId) => toAddon(await api('get add-on', 'GET', `/addons/${enc(addonId)}`, t)),
    getApp: async (t, app) => toApp(await api('get app', 'GET', `/apps/${enc(app)}`, t)),
    listCollaborators: async (t, app) =>
      arr(await api('list collaborators', 'GET', `/apps/${enc(app)}/collaborators`, t), 'collaborators').map(
        toCollaborator,
      ),
    listTeamMembers: async (t, team) =>
      arr(await api('list team members', 'GET', `/teams/${enc(team)}/members`, t), 'team members').map(
        toTeamMember,
      ),
    updateAddonConfig: async (t, addonId, config) => {
      const body = { config: Object.entries(config).map(([name, value]) => ({ name, value })) };
      const result = arr(
        await api('update add-on config', 'PATCH', `/addons/${enc(addonId)}/config`, t, body),
        'config',
      );
      return result.map((v) => {
        const o = obj(v, 'config var');
        return { name: str(o.name, 'config var name'), value: strOrNull(o.value) };
      });
    },
    markProvisioned: async (t, addonId) =>
      toAddon(await api('mark add-on provisioned', 'POST', `/addons/${enc(addonId)}/actions/provision`, t)),
    markDeprovisioned: async (t, addonId) =>
      toAddon(
        await api('mark add-on deprovisioned', 'POST', `/addons/${enc(addonId)}/actions/deprovision`, t),
      ),
    accessList: async (t, addonId) => {
      const addon = await client.getAddon(t, addonId);
      const [app, collaborators] = await Promise.all([
        client.getApp(t, addon.app.id),
        client.listCollaborators(t, addon.app.id),
      ]);
      const members = app.team ? await client.listTeamMembers(t, app.team.id) : [];
      return accessListFromPlatform(app, collaborators, members);
    },
  };
  return client;
}

/**
 * Runs a Platform API call with a fresh access token: refreshes first when the token expires within
 * `marginMs`, and once more on a 401. Every new token set goes through `persist` before it is used.
 */
export async function withAccessToken<T>(
  platform: HerokuPlatform,
  tokens: OAuthTokens,
  persist: (fresh: OAuthTokens) => Promise<void>,
  call: (accessToken: string) => Promise<T>,
  opts: { now?: number; marginMs?: number } = {},
): Promise<T> {
  const now = opts.now ?? Date.now();
  const marginMs = opts.marginMs ?? 60_000;
  let current = tokens;
  let refreshed = false;
  const refresh = async () => {
    current = await platform.refreshTokens(current.refreshToken);
    refreshed = true;
    await persist(current);
  };
  if (current.expiresAt - marginMs <= now) await refresh();
  try {
    return await call(current.accessToken);
  } catch (err) {
    if (refreshed || !(err instanceof PlatformApiError) || err.status !== 401) throw err;
    await refresh();
    return call(current.accessToken);
  }
}

// A team-owned app's owner (and sometimes a collaborator) is the team's pseudo-user `<team>@herokumanager.com`
// (Heroku CLI code), not a person to write to.
const TEAM_PSEUDO_USER_DOMAIN = '@herokumanager.com';

const ROLE_STRENGTH: Record<AccessRole, number> = {
  owner: 5,
  admin: 4,
  member: 3,
  collaborator: 2,
  viewer: 1,
};

function collaboratorRole(role: string | null): AccessRole {
  return role === 'owner' || role === 'admin' || role === 'member' || role === 'viewer'
    ? role
    : 'collaborator';
}

/**
 * Who may see this add-on: the app owner, its collaborators and, for a team app, the team's members.
 * Team members with the team role `collaborator` reach only apps they are collaborators on, so they come in
 * through the collaborator list or not at all. Deduplicated by email (case-insensitive), strongest role wins.
 */
export function accessListFromPlatform(
  app: PlatformApp,
  collaborators: PlatformCollaborator[],
  teamMembers: PlatformTeamMember[],
): AccessEntry[] {
  const byEmail = new Map<string, AccessEntry>();
  const add = (email: string, userId: string | null, role: AccessRole) => {
    const key = email.trim().toLowerCase();
    if (key === '' || key.endsWith(TEAM_PSEUDO_USER_DOMAIN)) return;
    const seen = byEmail.get(key);
    if (!seen) {
      byEmail.set(key, { email: email.trim(), userId, role });
      return;
    }
    if (ROLE_STRENGTH[role] > ROLE_STRENGTH[seen.role]) seen.role = role;
    seen.userId ??= userId;
  };
  add(app.owner.email, app.owner.id, 'owner');
  for (const c of collaborators) add(c.user.email, c.user.id, collaboratorRole(c.role));
  for (const m of teamMembers) {
    if (m.role === 'collaborator') continue;
    add(
      m.email,
      m.userId,
      m.role === 'admin' || m.role === 'viewer' || m.role === 'owner' ? m.role : 'member',
    );
  }
  return [...byEmail.values()].sort(
    (a, b) => ROLE_STRENGTH[b.role] - ROLE_STRENGTH[a.role] || a.email.localeCompare(b.email),
  );
}
