/**
 * A local stand-in for the Heroku Platform API and id.heroku.com OAuth, covering what platform.ts calls.
 * It follows Heroku's behaviour where the notes establish it: version-3 Accept header, Bearer tokens scoped to
 * one add-on, 401 on a bad or expired token, authorization gone after deprovisioning.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface FakeUser {
  id?: string;
  email: string;
}
export interface FakeCollaborator extends FakeUser {
  /** Heroku collaborator role; personal apps use `collaborator`, team apps admin | member | viewer. */
  role?: string | null;
  permissions?: string[];
}
export interface FakeTeamMember extends FakeUser {
  role: 'admin' | 'member' | 'viewer' | 'collaborator' | 'owner' | null;
}
export interface FakeAppInput {
  id: string;
  name: string;
  owner: { id: string; email: string };
  collaborators?: FakeCollaborator[];
  team?: { id?: string; name: string; members: FakeTeamMember[] };
}

export interface FakeAddon {
  id: string;
  name: string;
  appId: string;
  plan: string;
  state: 'provisioning' | 'provisioned' | 'deprovisioned';
  config: Record<string, string>;
}

interface Grant {
  addonId: string;
  expiresAt: number;
  used: boolean;
}
interface Token {
  addonId: string;
  expiresAt: number;
}

export interface FakePlatformOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** When set, token requests with another client_secret get 401. */
  clientSecret?: string;
  /** Lifetime of access tokens in seconds; Heroku's is about 8 h. */
  accessTokenTtlSeconds?: number;
  now?: () => number;
}

export class FakePlatformState {
  readonly apps = new Map<string, FakeAppInput>();
  readonly addons = new Map<string, FakeAddon>();
  /** Every request the fake received, in order: `METHOD /path`. */
  readonly requests: string[] = [];
  readonly grants = new Map<string, Grant>();
  readonly accessTokens = new Map<string, Token>();
  readonly refreshTokens = new Map<string, string>();
  private failures: { status: number; remaining: number } | null = null;

  constructor(
    private readonly options: Required<Pick<FakePlatformOptions, 'accessTokenTtlSeconds' | 'now'>>,
  ) {}

  now(): number {
    return this.options.now();
  }

  addApp(app: FakeAppInput): void {
    this.apps.set(app.id, app);
  }

  /** Registers a grant code as Heroku would send it in a provision request; creates the add-on if new. */
  registerGrant(
    code: string,
    input: { addonId: string; appId: string; plan?: string; name?: string; expiresInSeconds?: number },
  ): void {
    if (!this.addons.has(input.addonId)) {
      this.addons.set(input.addonId, {
        id: input.addonId,
        name: input.name ?? `meterline-${input.addonId.slice(0, 8)}`,
        appId: input.appId,
        plan: input.plan ?? 'basic',
        state: 'provisioning',
        config: {},
      });
    }
    this.grants.set(code, {
      addonId: input.addonId,
      expiresAt: this.options.now() + (input.expiresInSeconds ?? 300) * 1000,
      used: false,
    });
  }

  configOf(addonId: string): Record<string, string> {
    return { ...(this.addons.get(addonId)?.config ?? {}) };
  }

  stateOf(addonId: string): FakeAddon['state'] | undefined {
    return this.addons.get(addonId)?.state;
  }

  /** Makes every access token issued so far expired, as if 8 hours passed. */
  expireAccessTokens(): void {
    for (const token of this.accessTokens.values()) token.expiresAt = this.options.now() - 1;
  }

  /** The next `count` Platform API requests (not OAuth) answer `status`, to exercise retries. */
  failNext(count: number, status = 503): void {
    this.failures = { status, remaining: count };
  }

  takeFailure(): number | null {
    if (!this.failures || this.failures.remaining <= 0) return null;
    this.failures.remaining -= 1;
    return this.failures.status;
  }

  issueTokens(addonId: string): Record<string, unknown> {
    const accessToken = `fake-access-${randomUUID()}`;
    const refreshToken = `fake-refresh-${randomUUID()}`;
    const ttl = this.options.accessTokenTtlSeconds;
    this.accessTokens.set(accessToken, { addonId, expiresAt: this.options.now() + ttl * 1000 });
    this.refreshTokens.set(refreshToken, addonId);
    return {
      access_token: accessToken,
      refresh_token: refreshToken,
      expires_in: ttl,
      token_type: 'Bearer',
      user_id: randomUUID(),
      session_nonce: null,
    };
  }

  findApp(idOrName: string): FakeAppInput | undefined {
    return this.apps.get(idOrName) ?? [...this.apps.values()].find((a) => a.name === idOrName);
  }

  /** The add-on a live token belongs to, or null for a missing, unknown, expired or revoked token. */
  addonForToken(header: string | undefined): FakeAddon | null {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    const token = match ? this.accessTokens.get(match[1]!) : undefined;
    if (!token || token.expiresAt <= this.options.now()) return null;
    const addon = this.addons.get(token.addonId);
    return addon && addon.state !== 'deprovisioned' ? addon : null;
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

const ACCEPT_V3 = /application\/vnd\.heroku\+json;\s*version=3(?![.\w])/;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function addonJson(state: FakePlatformState, addon: FakeAddon) {
  const app = state.apps.get(addon.appId);
  return {
    id: addon.id,
    name: addon.name,
    state: addon.state,
    app: { id: addon.appId, name: app?.name ?? addon.appId },
    plan: { id: `plan-${addon.plan}`, name: `meterline:${addon.plan}` },
    config_vars: Object.keys(addon.config),
  };
}

function appJson(app: FakeAppInput) {
  return {
    id: app.id,
    name: app.name,
    owner: { id: app.owner.id, email: app.owner.email },
    team: app.team ? { id: app.team.id ?? `team-${app.team.name}`, name: app.team.name } : null,
  };
}

function handleOAuth(state: FakePlatformState, options: FakePlatformOptions, raw: string) {
  const form = new URLSearchParams(raw);
  if (options.clientSecret !== undefined && form.get('client_secret') !== options.clientSecret) {
    throw new HttpError(401, 'unauthorized', 'Invalid client secret.');
  }
  const grantType = form.get('grant_type');
  if (grantType === 'authorization_code') {
    const grant = state.grants.get(form.get('code') ?? '');
    if (!grant || grant.used || grant.expiresAt <= state.now()) {
      throw new HttpError(401, 'unauthorized', 'Invalid or expired authorization code.');
    }
    grant.used = true;
    return state.issueTokens(grant.addonId);
  }
  if (grantType === 'refresh_token') {
    const addonId = state.refreshTokens.get(form.get('refresh_token') ?? '');
    const addon = addonId ? state.addons.get(addonId) : undefined;
    if (!addon || addon.state === 'deprovisioned') {
      throw new HttpError(401, 'unauthorized', 'Invalid refresh token.');
    }
    return state.issueTokens(addon.id);
  }
  throw new HttpError(400, 'bad_request', `Unsupported grant_type ${grantType ?? '(none)'}.`);
}

function handleApi(
  state: FakePlatformState,
  req: IncomingMessage,
  method: string,
  parts: string[],
  raw: string,
): { status: number; body: unknown } {
  if (!ACCEPT_V3.test(req.headers.accept ?? '')) {
    throw new HttpError(400, 'bad_request', 'Accept must be application/vnd.heroku+json; version=3.');
  }
  const addon = state.addonForToken(req.headers.authorization);
  if (!addon) throw new HttpError(401, 'unauthorized', 'Invalid credentials provided.');
  const app = state.apps.get(addon.appId);
  const ownAddon = (id: string | undefined) => {
    if (id !== addon.id && id !== addon.name)
      throw new HttpError(403, 'forbidden', 'Not allowed for this token.');
  };
  const ownApp = (idOrName: string | undefined) => {
    if (!app || (idOrName !== app.id && idOrName !== app.name)) {
      throw new HttpError(403, 'forbidden', 'Not allowed for this token.');
    }
    return app;
  };

  const [root, id, sub, action] = parts;
  if (root === 'addons' && parts.length === 2 && method === 'GET') {
    ownAddon(id);
    return { status: 200, body: addonJson(state, addon) };
  }
  if (root === 'addons' && sub === 'config' && parts.length === 3 && method === 'PATCH') {
    ownAddon(id);
    const body = JSON.parse(raw || '{}') as { config?: { name?: unknown; value?: unknown }[] };
    if (!Array.isArray(body.config)) throw new HttpError(422, 'invalid_params', 'config must be a list.');
    for (const v of body.config) {
      if (typeof v.name !== 'string') throw new HttpError(422, 'invalid_params', 'config name missing.');
      if (v.value === null) delete addon.config[v.name];
      else if (typeof v.value === 'string') addon.config[v.name] = v.value;
      else throw new HttpError(422, 'invalid_params', 'config values must be strings or null.');
    }
    return { status: 200, body: Object.entries(addon.config).map(([name, value]) => ({ name, value })) };
  }
  if (root === 'addons' && sub === 'actions' && parts.length === 4 && method === 'POST') {
    ownAddon(id);
    if (action === 'provision') {
      addon.state = 'provisioned';
      return { status: 200, body: addonJson(state, addon) };
    }
    if (action === 'deprovision') {
      addon.state = 'deprovisioned';
      return { status: 200, body: addonJson(state, addon) };
    }
  }
  if (root === 'apps' && parts.length === 2 && method === 'GET') {
    return { status: 200, body: appJson(ownApp(id)) };
  }
  if (root === 'apps' && sub === 'collaborators' && parts.length === 3 && method === 'GET') {
    const a = ownApp(id);
    return {
      status: 200,
      body: (a.collaborators ?? []).map((c) => ({
        id: `collab-${c.email}`,
        role: c.role ?? (a.team ? 'member' : 'collaborator'),
        app: { id: a.id, name: a.name },
        user: { id: c.id ?? `user-${c.email}`, email: c.email, federated: false },
        permissions: (c.permissions ?? ['view', 'deploy']).map((name) => ({ name, description: name })),
      })),
    };
  }
  if (root === 'teams' && sub === 'members' && parts.length === 3 && method === 'GET') {
    const team = app?.team;
    if (!team || (id !== team.name && id !== (team.id ?? `team-${team.name}`))) {
      throw new HttpError(403, 'forbidden', 'Not allowed for this token.');
    }
    return {
      status: 200,
      body: team.members.map((m) => ({
        id: `member-${m.email}`,
        email: m.email,
        role: m.role,
        federated: false,
        user: { id: m.id ?? `user-${m.email}`, email: m.email, name: null },
      })),
    };
  }
  throw new HttpError(404, 'not_found', `No route ${method} /${parts.join('/')}.`);
}

/**
 * Seeding over HTTP, for the standalone fake (main.ts) driven by another process such as the demo:
 * POST /_fake/apps (FakeAppInput), POST /_fake/grants ({ code, addonId, appId, plan? }),
 * GET /_fake/addons/{id} (state and config vars). Not part of Heroku's API.
 */
function handleSeeding(state: FakePlatformState, method: string, path: string, raw: string): unknown {
  if (method === 'POST' && path === '/_fake/apps') {
    const app = JSON.parse(raw) as FakeAppInput;
    if (typeof app?.id !== 'string' || typeof app.name !== 'string' || typeof app.owner?.email !== 'string') {
      throw new HttpError(422, 'invalid_params', 'an app needs id, name and owner { id, email }');
    }
    state.addApp(app);
    return { ok: true };
  }
  if (method === 'POST' && path === '/_fake/grants') {
    const g = JSON.parse(raw) as { code?: unknown; addonId?: unknown; appId?: unknown; plan?: unknown };
    if (typeof g.code !== 'string' || typeof g.addonId !== 'string' || typeof g.appId !== 'string') {
      throw new HttpError(422, 'invalid_params', 'a grant needs code, addonId and appId');
    }
    state.registerGrant(g.code, {
      addonId: g.addonId,
      appId: g.appId,
      ...(typeof g.plan === 'string' ? { plan: g.plan } : {}),
    });
    return { ok: true };
  }
  const addonMatch = /^\/_fake\/addons\/([^/]+)$/.exec(path);
  if (method === 'GET' && addonMatch) {
    const addon = state.addons.get(decodeURIComponent(addonMatch[1]!));
    if (!addon) throw new HttpError(404, 'not_found', 'no such add-on');
    return addon;
  }
  throw new HttpError(404, 'not_found', `No route ${method} ${path}.`);
}

export interface FakePlatform {
  /** Platform API base (HEROKU_API_URL). */
  url: string;
  /** OAuth base (HEROKU_ID_URL); a separate prefix so a client mixing up the two bases fails. */
  idUrl: string;
  state: FakePlatformState;
  close(): Promise<void>;
}

export async function startFakePlatform(options: FakePlatformOptions = {}): Promise<FakePlatform> {
  const now = options.now ?? Date.now;
  const state = new FakePlatformState({
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 28_800,
    now,
  });

  const server = createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    state.requests.push(`${method} ${path}`);
    try {
      const raw = await readBody(req);
      if (path === '/id/oauth/token' && method === 'POST') {
        send(res, 200, handleOAuth(state, options, raw));
        return;
      }
      if (path.startsWith('/_fake/')) {
        send(res, 200, handleSeeding(state, method, path, raw));
        return;
      }
      const failure = state.takeFailure();
      if (failure !== null) throw new HttpError(failure, 'service_unavailable', 'Injected failure.');
      const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
      const result = handleApi(state, req, method, parts, raw);
      send(res, result.status, result.body);
    } catch (err) {
      if (err instanceof HttpError) send(res, err.status, { id: err.id, message: err.message });
      else if (err instanceof SyntaxError)
        send(res, 400, { id: 'bad_request', message: 'The body is not JSON.' });
      else send(res, 500, { id: 'internal_server_error', message: String(err) });
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    idUrl: `${url}/id`,
    state,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
