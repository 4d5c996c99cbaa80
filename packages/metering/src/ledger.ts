import { inTransaction, type Pool, type PoolClient } from '@meterline/db';

/** Where the ledger's reads run: the pool, or the client of a transaction in progress. */
export type Db = Pool | PoolClient;

/** One ledger row's increment: usage of a resource's metric in one UTC hour. */
export interface LedgerRow {
  resourceId: string;
  metric: string;
  hour: number;
  quantity: number;
  events: number;
}

/** The generation of the Redis counters (ADR 0011) and the Redis server (INFO run_id) they were last
 * checked against; null before the first check. */
export interface CounterGeneration {
  generation: number;
  redisRunId: string | null;
}

/** The batch was counted under another generation of the Redis counters than the ledger's (ADR 0011).
 * `ahead`: Redis holds a newer one than Postgres (a rebuild that did not commit) - rebuild again. Either
 * way the batch is retried. */
export class GenerationMismatchError extends Error {
  constructor(
    readonly counted: number,
    readonly current: number,
  ) {
    super(`the batch was counted under counter generation ${counted}, the ledger is at ${current}`);
    this.name = 'GenerationMismatchError';
  }

  get ahead(): boolean {
    return this.counted > this.current;
  }
}

/** The durable usage ledger in Postgres: usage per resource, metric and hour. Idempotent per
 * partition: a watermark (the next offset not yet recorded) moves in the same transaction as the
 * rows, and the caller leaves out the events below it (`watermark()` before counting). */
export class UsageLedger {
  constructor(
    private readonly pool: Pool,
    private readonly consumer: string,
  ) {}

  /** The partition's first offset the ledger does not hold yet. Compared as a double on the hot
   * path: exact for offsets below 2^53 (9e15 records per partition). */
  async watermark(topic: string, partition: number): Promise<number> {
    const { rows } = await this.pool.query<{ next_offset: string }>(
      'SELECT next_offset FROM ledger_watermarks WHERE consumer = $1 AND topic = $2 AND partition = $3',
      [this.consumer, topic, partition],
    );
    return rows[0] ? Number(rows[0].next_offset) : 0;
  }

  /** Records the rows of one batch (offsets up to lastOffset of a partition), which hold only events
   * at or above `from`, the watermark read before the batch was counted. Throws when the watermark has
   * moved since (another consumer recorded the partition meanwhile), or when the batch was counted under
   * another generation of the counters than the current one (`generation`, null when nothing was
   * counted): the caller retries the batch. One round trip (`ledger_record`, migration 008). */
  async record(
    topic: string,
    partition: number,
    from: number,
    lastOffset: string,
    rows: Iterable<LedgerRow>,
    generation: number | null,
  ): Promise<number> {
    // Sorted so concurrent writers take row locks in one order.
    const list = [...rows].sort((a, b) =>
      a.resourceId === b.resourceId
        ? a.metric === b.metric
          ? a.hour - b.hour
          : a.metric < b.metric
            ? -1
            : 1
        : a.resourceId < b.resourceId
          ? -1
          : 1,
    );
    const next = BigInt(lastOffset) + 1n;
    const { rows: out } = await this.pool.query<{ status: string; current_value: string | null }>(
      `SELECT status, current_value FROM ledger_record($1, $2, $3, $4, $5, $6,
           $7::uuid[], $8::text[], $9::timestamptz[], $10::float8[], $11::bigint[])`,
      [
        this.consumer,
        topic,
        partition,
        from,
        next.toString(),
        generation,
        list.map((s) => s.resourceId),
        list.map((s) => s.metric),
        list.map((s) => new Date(s.hour).toISOString()),
        list.map((s) => s.quantity),
        list.map((s) => s.events),
      ],
    );
    const answer = out[0]!;
    if (answer.status === 'generation')
      throw new GenerationMismatchError(generation!, Number(answer.current_value));
    if (answer.status === 'watermark')
      throw new Error(
        `ledger watermark of ${topic}:${partition} moved from ${from} to ${answer.current_value} while the batch was counted`,
      );
    return list.length;
  }

  /** Runs `fn` holding the counters' generation exclusively (ADR 0011): batches recording meanwhile wait,
   * and every batch recorded before is visible to `fn`'s reads, which go through `db` (the same
   * connection: blocked batches may hold every other one of the pool). `fn` gets the generation and the
   * Redis server it was last checked against, and returns what to store instead, or null to leave both. */
  async withGeneration(
    fn: (current: CounterGeneration, db: PoolClient) => Promise<CounterGeneration | null>,
  ): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        'INSERT INTO counter_generations (consumer, generation) VALUES ($1, 0) ON CONFLICT DO NOTHING',
        [this.consumer],
      );
      const { rows } = await client.query<{ generation: string; redis_run_id: string | null }>(
        'SELECT generation, redis_run_id FROM counter_generations WHERE consumer = $1 FOR UPDATE',
        [this.consumer],
      );
      const next = await fn(
        { generation: Number(rows[0]!.generation), redisRunId: rows[0]!.redis_run_id },
        client,
      );
      if (next !== null)
        await client.query(
          'UPDATE counter_generations SET generation = $2, redis_run_id = $3 WHERE consumer = $1',
          [this.consumer, next.generation, next.redisRunId],
        );
    });
  }

  /** resourceId -> metric -> total of the hours in [start, end). */
  async periodTotals(
    start: number,
    end: number,
    resourceIds?: string[],
    db: Db = this.pool,
  ): Promise<Map<string, Record<string, number>>> {
    return ledgerTotals(db, { start, end, ...(resourceIds ? { resourceIds } : {}) });
  }

  /** Hourly rows since `from`, for rebuilding the rolling-window buckets. */
  async hoursSince(
    from: number,
    resourceIds?: string[],
    db: Db = this.pool,
  ): Promise<{ resourceId: string; metric: string; hour: number; quantity: number }[]> {
    const params: unknown[] = [new Date(from).toISOString()];
    let filter = '';
    if (resourceIds) {
      params.push(resourceIds);
      filter = 'AND resource_id = ANY($2::uuid[])';
    }
    const { rows } = await db.query<{
      resource_id: string;
      metric: string;
      hour: Date;
      quantity: number;
    }>(`SELECT resource_id, metric, hour, quantity FROM usage_ledger WHERE hour >= $1 ${filter}`, params);
    return rows.map((r) => ({
      resourceId: r.resource_id,
      metric: r.metric,
      hour: r.hour.getTime(),
      quantity: Number(r.quantity),
    }));
  }
}

/** resourceId -> metric -> total, over the hours in [start, end) (every hour when not given), of these
 * resources (every resource when not given). */
export async function ledgerTotals(
  db: Db,
  opts: { start?: number; end?: number; resourceIds?: readonly string[] } = {},
): Promise<Map<string, Record<string, number>>> {
  const { rows } = await db.query<{ resource_id: string; metric: string; total: number }>(
    `SELECT resource_id, metric, sum(quantity) AS total FROM usage_ledger
     WHERE ($1::timestamptz IS NULL OR hour >= $1) AND ($2::timestamptz IS NULL OR hour < $2)
       AND ($3::uuid[] IS NULL OR resource_id = ANY($3::uuid[]))
     GROUP BY resource_id, metric`,
    [
      opts.start === undefined ? null : new Date(opts.start).toISOString(),
      opts.end === undefined ? null : new Date(opts.end).toISOString(),
      opts.resourceIds ?? null,
    ],
  );
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    const m = out.get(r.resource_id) ?? {};
    m[r.metric] = Number(r.total);
    out.set(r.resource_id, m);
  }
  return out;
}

/** How many events the ledger holds (of these resources, when given): what was counted, for checks of
 * exactly-once counting against what was sent. */
export async function ledgerEventCount(db: Db, resourceIds?: readonly string[]): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `SELECT coalesce(sum(events), 0)::bigint AS n FROM usage_ledger
     WHERE ($1::uuid[] IS NULL OR resource_id = ANY($1::uuid[]))`,
    [resourceIds ?? null],
  );
  return Number(rows[0]!.n);
}

/** How many events the ledger holds per resource and metric (every hour summed): a benchmark's check
 * of exactly-once counting against what it sent. */
export async function ledgerEventsByMetric(
  db: Db,
): Promise<{ resourceId: string; metric: string; events: number }[]> {
  const { rows } = await db.query<{ resource_id: string; metric: string; events: string }>(
    'SELECT resource_id, metric, sum(events)::bigint AS events FROM usage_ledger GROUP BY resource_id, metric',
  );
  return rows.map((r) => ({ resourceId: r.resource_id, metric: r.metric, events: Number(r.events) }));
}

/** The partitions of a topic that batches were recorded of (a watermark each), by any consumer. */
export async function recordedPartitions(db: Db, topic: string): Promise<number[]> {
  const { rows } = await db.query<{ partition: number }>(
    'SELECT DISTINCT partition FROM ledger_watermarks WHERE topic = $1 ORDER BY partition',
    [topic],
  );
  return rows.map((r) => r.partition);
}

/** Empties the ledger, its watermarks and the counters' generations: a benchmark's fresh start. */
export async function clearLedger(db: Db): Promise<void> {
  await db.query('TRUNCATE usage_ledger, ledger_watermarks, counter_generations');
}

/** One hour of one resource's metric, as the ledger holds it. */
export interface LedgerHour {
  resourceId: string;
  metric: string;
  hour: number;
  quantity: number;
}

/** One UTC day of one resource's metric: the sum of its hours. */
export interface LedgerDay {
  resourceId: string;
  metric: string;
  /** The day's start, epoch ms. */
  day: number;
  quantity: number;
  /** How many hourly rows the day has. */
  hours: number;
}

/**
 * The ledger summed per UTC day over the hours in [start, end), of every resource (or of `resourceIds`): resourceId -> its
 * days, ordered by metric and day. One pass of Postgres over the window (parallel where it can), a
 * 24th of the hourly rows, and one row per resource and metric on the wire.
 */
export async function ledgerDays(
  db: Db,
  opts: { start: number; end: number; resourceIds?: readonly string[] },
): Promise<Map<string, LedgerDay[]>> {
  const { rows } = await db.query<[string, string, number[], number[], number[]]>({
    text: `SELECT resource_id, metric, array_agg(day ORDER BY day), array_agg(quantity ORDER BY day), array_agg(hours ORDER BY day)
           FROM (SELECT resource_id, metric, (extract(epoch FROM hour)::bigint / 86400) * 86400000 AS day,
                        sum(quantity) AS quantity, count(*)::int AS hours
                 FROM usage_ledger WHERE hour >= $1 AND hour < $2
                   AND ($3::uuid[] IS NULL OR resource_id = ANY($3::uuid[])) GROUP BY 1, 2, 3) d
           GROUP BY 1, 2 ORDER BY 1, 2`,
    values: [new Date(opts.start).toISOString(), new Date(opts.end).toISOString(), opts.resourceIds ?? null],
    rowMode: 'array',
  });
  const out = new Map<string, LedgerDay[]>();
  for (const [resourceId, metric, days, quantities, hours] of rows) {
    let list = out.get(resourceId);
    if (!list) {
      list = [];
      out.set(resourceId, list);
    }
    for (let i = 0; i < days.length; i++)
      list.push({
        resourceId,
        metric,
        day: Number(days[i]),
        quantity: Number(quantities[i]),
        hours: Number(hours[i]),
      });
  }
  return out;
}

/** The hourly rows of these (resource, metric, UTC day)s, ordered by resource, metric and hour. */
export async function ledgerHoursOfDays(
  db: Db,
  days: readonly { resourceId: string; metric: string; day: number }[],
): Promise<LedgerHour[]> {
  if (days.length === 0) return [];
  const { rows } = await db.query<[string, string, number, number]>({
    text: `SELECT u.resource_id, u.metric, extract(epoch FROM u.hour)::float8 * 1000, u.quantity
           FROM unnest($1::uuid[], $2::text[], $3::float8[]) AS d(r, m, day)
           JOIN usage_ledger u ON u.resource_id = d.r AND u.metric = d.m
             AND u.hour >= to_timestamp(d.day / 1000) AND u.hour < to_timestamp(d.day / 1000) + interval '1 day'
           ORDER BY 1, 2, 3`,
    values: [days.map((d) => d.resourceId), days.map((d) => d.metric), days.map((d) => d.day)],
    rowMode: 'array',
  });
  return rows.map((r) => ({ resourceId: r[0], metric: r[1], hour: r[2], quantity: Number(r[3]) }));
}
