import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from '@meterline/db';
import { type Actor, audit } from './audit.ts';

/** What a key may do. */
export const API_KEY_SCOPES = {
  'usage:read': "Read any resource's usage JSON",
} as const;
export type ApiKeyScope = keyof typeof API_KEY_SCOPES;

export interface ApiKey {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  createdBy: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

const PREFIX = 'mlk_';
const hash = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/** Machine credentials for the JSON API: shown once when made, stored as a hash, scoped, revocable. */
export class ApiKeys {
  constructor(private readonly pool: Pool) {}

  /** Makes a key; returns its secret value, which is never shown again. */
  async create(name: string, scopes: ApiKeyScope[], actor: Actor): Promise<{ key: string; id: string }> {
    const key = `${PREFIX}${randomBytes(24).toString('base64url')}`;
    const { rows } = await this.pool.query(
      'INSERT INTO api_keys (name, key_hash, scopes, created_by) VALUES ($1, $2, $3, $4) RETURNING id::text',
      [name.trim().slice(0, 100) || 'unnamed', hash(key), scopes, actor.accountId],
    );
    await audit(this.pool, actor, 'api_key.create', rows[0].id, { name, scopes });
    return { key, id: rows[0].id };
  }

  /** The live key with this value holding the scope (its last use noted), or null. */
  async verify(key: string, scope: ApiKeyScope): Promise<ApiKey | null> {
    if (!key.startsWith(PREFIX)) return null;
    const { rows } = await this.pool.query(
      `UPDATE api_keys SET last_used_at = now()
       WHERE key_hash = $1 AND revoked_at IS NULL AND $2 = ANY(scopes)
       RETURNING id::text, name, scopes, NULL AS created_by, created_at, last_used_at, revoked_at`,
      [hash(key), scope],
    );
    return rows[0] ? toApiKey(rows[0]) : null;
  }

  async revoke(id: string, actor: Actor): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
      [id],
    );
    if (rowCount) await audit(this.pool, actor, 'api_key.revoke', id);
    return (rowCount ?? 0) > 0;
  }

  async list(): Promise<ApiKey[]> {
    const { rows } = await this.pool.query(
      `SELECT k.id::text, k.name, k.scopes, a.email AS created_by, k.created_at, k.last_used_at, k.revoked_at
       FROM api_keys k LEFT JOIN accounts a ON a.id = k.created_by ORDER BY k.created_at DESC`,
    );
    return rows.map(toApiKey);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: a row of the api_keys columns
const toApiKey = (r: any): ApiKey => ({
  id: r.id,
  name: r.name,
  scopes: r.scopes,
  createdBy: r.created_by,
  createdAt: r.created_at.getTime(),
  lastUsedAt: r.last_used_at?.getTime() ?? null,
  revokedAt: r.revoked_at?.getTime() ?? null,
});
