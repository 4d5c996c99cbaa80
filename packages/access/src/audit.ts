import type { Pool, PoolClient } from '@meterline/db';

/** Who acts: the signed-in person (or a script, with no account), and from where. */
export interface Actor {
  accountId: string | null;
  email: string;
  ip: string | null;
}

export interface AuditEntry {
  id: string;
  at: number;
  actorEmail: string | null;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  ip: string | null;
}

type Queryable = Pick<Pool | PoolClient, 'query'>;

/** Records one audited action (in the caller's transaction, when it passes its client). */
export async function audit(
  db: Queryable,
  actor: Actor | null,
  action: string,
  target: string | null,
  detail: Record<string, unknown> = {},
): Promise<void> {
  await db.query(
    'INSERT INTO audit_log (actor_id, actor_email, action, target, detail, ip) VALUES ($1, $2, $3, $4, $5, $6)',
    [
      actor?.accountId ?? null,
      actor?.email ?? null,
      action,
      target,
      JSON.stringify(detail),
      actor?.ip ?? null,
    ],
  );
}

/** The audit log, newest first. */
export class AuditLog {
  constructor(private readonly pool: Pool) {}

  record(actor: Actor | null, action: string, target: string | null, detail: Record<string, unknown> = {}) {
    return audit(this.pool, actor, action, target, detail);
  }

  async list(opts: { limit?: number; action?: string } = {}): Promise<AuditEntry[]> {
    const { rows } = await this.pool.query(
      `SELECT id::text, at, actor_email, action, target, detail, ip FROM audit_log
       WHERE ($1::text IS NULL OR action = $1) ORDER BY at DESC, id DESC LIMIT $2`,
      [opts.action ?? null, opts.limit ?? 200],
    );
    return rows.map((r) => ({
      id: r.id,
      at: (r.at as Date).getTime(),
      actorEmail: r.actor_email,
      action: r.action,
      target: r.target,
      detail: r.detail,
      ip: r.ip,
    }));
  }
}
