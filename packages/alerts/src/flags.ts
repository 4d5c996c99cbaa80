import type { Pool } from '@meterline/db';
import type { ContractCodec, Producer } from '@meterline/kafka';
import { flagsCopyKey, keys } from '@meterline/metering';
import { type Redis, redisRunId } from '@meterline/redis';
import { DAY, type PlanFlagState } from '@meterline/rules';
import type { PlanFlag } from '@meterline/schemas';

/** Downgrade-block flags: Postgres holds the latest per resource (and whether plan.flags.v1 has
 * it), Redis a copy the api reads in one round trip. Only a change is written and published. */
export class FlagStore {
  /** resourceId -> the stored flag's state, so an unchanged flag costs no write. */
  private readonly known = new Map<string, string>();

  constructor(
    private readonly pool: Pool,
    private readonly redis: Redis,
  ) {
    redis.defineCommand('meterlineWriteFlag', { numberOfKeys: 1, lua: writeFlagScript });
  }

  /** When Redis lost its copy of the flags (the copy marker is gone: lost data, or the first start), or
   * may hold an older one (the marker names another Redis run_id: it restarted or failed over since, and
   * a snapshot or a lagging replica lacks the latest flags), writes every flag that Redis would still
   * hold from Postgres again; a flag Redis holds newer is kept. Returns how many, or null when the copy
   * was whole. */
  async restoreRedis(now: number): Promise<number | null> {
    const [copiedInto, runId] = await Promise.all([this.redis.get(flagsCopyKey), redisRunId(this.redis)]);
    // Whole: the marker is there and names this server (or INFO does not tell which server this is).
    if (copiedInto !== null && (runId === null || copiedInto === runId)) return null;
    const { rows } = await this.pool.query<FlagRow>(
      `SELECT ${FLAG_COLUMNS} FROM plan_flags WHERE period_end > $1`,
      [new Date(now - FLAG_COPY_KEEP_MS).toISOString()],
    );
    for (let i = 0; i < rows.length; i += 200)
      await Promise.all(rows.slice(i, i + 200).map((r) => this.writeRedis(toPlanFlag(r))));
    await this.redis.set(flagsCopyKey, runId ?? String(now));
    return rows.length;
  }

  /** Forgets what it knew: another evaluator may have changed flags while it did not own them. */
  clear(): void {
    this.known.clear();
  }

  /** Loads the stored state of these resources' flags in one query. */
  async prime(resourceIds: string[]): Promise<void> {
    const missing = resourceIds.filter((id) => !this.known.has(id));
    if (missing.length === 0) return;
    const { rows } = await this.pool.query<FlagRow>(
      `SELECT ${FLAG_COLUMNS} FROM plan_flags WHERE resource_id = ANY($1::uuid[])`,
      [missing],
    );
    for (const id of missing) this.known.set(id, UNBLOCKED);
    for (const r of rows) this.known.set(r.resource_id, signature(toPlanFlag(r)));
  }

  /** Stores the flag if it differs from the stored one; returns whether it changed. */
  async update(resourceId: string, state: PlanFlagState, now: number): Promise<boolean> {
    const sig = signature(state);
    // Primed per batch, but a rebalance may clear what was primed before this runs: never decide on an
    // unknown state (a first, unblocked state would be stored and copied as if it had changed).
    if (!this.known.has(resourceId)) await this.prime([resourceId]);
    if (this.known.get(resourceId) === sig) return false;
    const { rows } = await this.pool.query<{ changed: boolean }>(
      `INSERT INTO plan_flags (resource_id, downgrade_blocked, blocked_plans, reason, period_end, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (resource_id) DO UPDATE SET downgrade_blocked = excluded.downgrade_blocked,
         blocked_plans = excluded.blocked_plans, reason = excluded.reason, period_end = excluded.period_end,
         updated_at = excluded.updated_at, published_at = NULL
       WHERE (plan_flags.downgrade_blocked, plan_flags.blocked_plans, plan_flags.reason, plan_flags.period_end)
         IS DISTINCT FROM (excluded.downgrade_blocked, excluded.blocked_plans, excluded.reason, excluded.period_end)
       RETURNING true AS changed`,
      [
        resourceId,
        state.downgradeBlocked,
        state.blockedPlans,
        state.reason,
        new Date(state.periodEnd).toISOString(),
        new Date(now).toISOString(),
      ],
    );
    if (rows.length > 0) await this.writeRedis({ resourceId, ...state, updatedAt: now });
    // Remembered only once Postgres and Redis both have it, so a failed write is retried.
    this.known.set(resourceId, sig);
    return rows.length > 0;
  }

  /** Lifts every block whose period has ended (the flag's own periodEnd). */
  async liftExpired(now: number): Promise<number> {
    const { rows } = await this.pool.query<{ resource_id: string; period_end: Date }>(
      `UPDATE plan_flags SET downgrade_blocked = false, blocked_plans = '{}', reason = '', updated_at = $1, published_at = NULL
       WHERE downgrade_blocked AND period_end <= $1 RETURNING resource_id, period_end`,
      [new Date(now).toISOString()],
    );
    for (const r of rows) {
      this.known.delete(r.resource_id);
      await this.writeRedis({
        resourceId: r.resource_id,
        downgradeBlocked: false,
        blockedPlans: [],
        reason: '',
        periodEnd: r.period_end.getTime(),
        updatedAt: now,
      });
    }
    return rows.length;
  }

  async publishPending(
    producer: Producer,
    codec: ContractCodec<PlanFlag>,
    topic: string,
    limit = 500,
  ): Promise<PlanFlag[]> {
    const { rows } = await this.pool.query<FlagRow>(
      `SELECT ${FLAG_COLUMNS} FROM plan_flags WHERE published_at IS NULL ORDER BY updated_at LIMIT $1`,
      [limit],
    );
    if (rows.length === 0) return [];
    const flags = rows.map(toPlanFlag);
    const messages = await Promise.all(
      flags.map(async (f) => ({ key: f.resourceId, value: await codec.encode(f) })),
    );
    await producer.send({ topic, messages, acks: -1 });
    // Only mark what was sent: a flag changed meanwhile keeps its newer updated_at and stays pending.
    await this.pool.query(
      `UPDATE plan_flags f SET published_at = now()
       FROM unnest($1::uuid[], $2::timestamptz[]) AS sent(resource_id, updated_at)
       WHERE f.resource_id = sent.resource_id AND f.updated_at = sent.updated_at`,
      [flags.map((f) => f.resourceId), flags.map((f) => new Date(f.updatedAt).toISOString())],
    );
    return flags;
  }

  /** Writes the Redis copy unless it already holds a newer one (a restore may race with a change). */
  private async writeRedis(flag: PlanFlag): Promise<void> {
    // biome-ignore lint/suspicious/noExplicitAny: defineCommand adds the method at runtime
    await (this.redis as any).meterlineWriteFlag(
      keys.flag(flag.resourceId),
      String(flag.updatedAt),
      String(flag.downgradeBlocked),
      JSON.stringify(flag.blockedPlans),
      flag.reason,
      String(flag.periodEnd),
      String(flag.periodEnd + FLAG_COPY_KEEP_MS),
    );
  }
}

/** How long Redis keeps a flag's copy after its period ended. */
const FLAG_COPY_KEEP_MS = 7 * DAY;

const writeFlagScript = `
local have = redis.call('HGET', KEYS[1], 'updatedAt')
if have and tonumber(have) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[1], 'downgradeBlocked', ARGV[2], 'blockedPlans', ARGV[3],
  'reason', ARGV[4], 'periodEnd', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], ARGV[6])
return 1
`;

interface FlagRow {
  resource_id: string;
  downgrade_blocked: boolean;
  blocked_plans: string[];
  reason: string;
  period_end: Date;
  updated_at: Date;
}
const FLAG_COLUMNS = 'resource_id, downgrade_blocked, blocked_plans, reason, period_end, updated_at';

const toPlanFlag = (r: FlagRow): PlanFlag => ({
  resourceId: r.resource_id,
  downgradeBlocked: r.downgrade_blocked,
  blockedPlans: r.blocked_plans,
  reason: r.reason,
  periodEnd: r.period_end.getTime(),
  updatedAt: r.updated_at.getTime(),
});

/** A resource without a stored flag is unblocked: a first unblocked state is no change, so only
 * resources that were blocked at some point have a flag row and records on plan.flags.v1. */
const UNBLOCKED = 'unblocked';
const signature = (s: PlanFlagState) =>
  s.downgradeBlocked ? JSON.stringify([s.blockedPlans, s.reason, s.periodEnd]) : UNBLOCKED;

/** Reads a resource's flag from Redis (what the api does). */
export async function readFlag(redis: Redis, resourceId: string): Promise<PlanFlag | null> {
  const h = await redis.hgetall(keys.flag(resourceId));
  if (!h.updatedAt) return null;
  return {
    resourceId,
    downgradeBlocked: h.downgradeBlocked === 'true',
    blockedPlans: JSON.parse(h.blockedPlans ?? '[]') as string[],
    reason: h.reason ?? '',
    periodEnd: Number(h.periodEnd),
    updatedAt: Number(h.updatedAt),
  };
}

/** A resource's flag as Postgres holds it (the truth Redis copies), or null when it was never blocked. */
export async function storedFlag(pool: Pool, resourceId: string): Promise<PlanFlag | null> {
  const { rows } = await pool.query<FlagRow>(
    `SELECT ${FLAG_COLUMNS} FROM plan_flags WHERE resource_id = $1`,
    [resourceId],
  );
  return rows[0] ? toPlanFlag(rows[0]) : null;
}
