import type { Pool } from '@meterline/db';
import type { OAuthTokens } from '@meterline/heroku';
import type { Sealer } from './seal.ts';

/** Each resource's Platform API tokens, sealed at rest. */
export class TokenVault {
  constructor(
    private readonly pool: Pool,
    private readonly sealer: Sealer,
  ) {}

  async save(resourceId: string, tokens: OAuthTokens): Promise<void> {
    await this.pool.query(
      `INSERT INTO resource_oauth_tokens (resource_id, sealed, expires_at, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (resource_id) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at, updated_at = now()`,
      [resourceId, this.sealer.seal(JSON.stringify(tokens)), new Date(tokens.expiresAt)],
    );
  }

  async load(resourceId: string): Promise<OAuthTokens | null> {
    const { rows } = await this.pool.query<{ sealed: string }>(
      'SELECT sealed FROM resource_oauth_tokens WHERE resource_id = $1',
      [resourceId],
    );
    return rows[0] ? (JSON.parse(this.sealer.open(rows[0].sealed)) as OAuthTokens) : null;
  }
}
