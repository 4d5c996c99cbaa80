import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Pool } from '@meterline/db';

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export interface ConsoleSession {
  accountId: string;
  /** what the session's state-changing forms must carry */
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * Console sessions. The cookie carries a random token; the table holds its hash. Every request reads the
 * row, so a logout, a revocation or a removal takes effect on the next request. Each session has a random
 * CSRF token that its forms carry and a cross-site form cannot know.
 */
export class ConsoleSessions {
  constructor(private readonly pool: Pool) {}

  async open(
    accountId: string,
    now: number,
    ttlMs: number,
    from: { ip: string | null; userAgent: string | null },
  ): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.pool.query(
      `INSERT INTO console_sessions (token_hash, account_id, csrf, created_at, expires_at, ip, user_agent)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        hash(token),
        accountId,
        randomBytes(24).toString('base64url'),
        new Date(now),
        new Date(now + ttlMs),
        from.ip,
        from.userAgent?.slice(0, 300) ?? null,
      ],
    );
    // Sessions long over are dropped as new ones open.
    await this.pool.query(`DELETE FROM console_sessions WHERE expires_at < $1`, [new Date(now - 86_400_000)]);
    return token;
  }

  /** The live session of this token: not expired, not revoked. */
  async find(token: string | undefined, now: number): Promise<ConsoleSession | null> {
    if (!token) return null;
    const { rows } = await this.pool.query(
      `SELECT account_id::text, csrf, created_at, expires_at FROM console_sessions
       WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2`,
      [hash(token), new Date(now)],
    );
    const r = rows[0];
    return r
      ? {
          accountId: r.account_id,
          csrf: r.csrf,
          createdAt: r.created_at.getTime(),
          expiresAt: r.expires_at.getTime(),
        }
      : null;
  }

  async revoke(token: string): Promise<void> {
    await this.pool.query('UPDATE console_sessions SET revoked_at = now() WHERE token_hash = $1', [
      hash(token),
    ]);
  }

  /** Ends every session of an account (a password change, a removal). */
  async revokeAll(accountId: string): Promise<number> {
    const { rowCount } = await this.pool.query(
      'UPDATE console_sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL',
      [accountId],
    );
    return rowCount ?? 0;
  }
}

/** Whether a form's CSRF field is its session's token (compared in constant time). */
export function csrfMatches(want: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(want);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
