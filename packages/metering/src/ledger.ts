import { inTransaction, type Pool, type PoolClient } from '@meterline/db';

/** Where the ledger's reads run: the pool, or the client of a transaction in progress. */
type Db = Pool | PoolClient;

/** One ledger row's increment: usage of a resource's metric in one UTC hour. */
export interface LedgerRow {
  resourceId: string;
  metric: string;
  hour: number;
  quantity: number;
  events: number;
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
   * counted): the caller retries the batch. */
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
    return inTransaction(this.pool, async (client) => {
      if (generation !== null) {
        // Shared: batches record side by side; a rebuild (exclusive) waits for them and they for it.
        const { rows: gens } = await client.query<{ generation: string }>(
          'SELECT generation FROM counter_generations WHERE consumer = $1 FOR SHARE',
          [this.consumer],
        );
        const current = Number(gens[0]?.generation ?? 0);
        if (current !== generation) throw new GenerationMismatchError(generation, current);
      }
      await client.query(
        `INSERT INTO ledger_watermarks (consumer, topic, partition, next_offset) VALUES ($1, $2, $3, 0)
         ON CONFLICT DO NOTHING`,
        [this.consumer, topic, partition],
      );
      const { rows: marks } = await client.query<{ next_offset: string }>(
        'SELECT next_offset FROM ledger_watermarks WHERE consumer = $1 AND topic = $2 AND partition = $3 FOR UPDATE',
        [this.consumer, topic, partition],
      );
      const watermark = BigInt(marks[0]!.next_offset);
      if (Number(watermark) !== from)
        throw new Error(
          `ledger watermark of ${topic}:${partition} moved from ${from} to ${watermark} while the batch was counted`,
        );
      if (list.length > 0) {
        await client.query(
          `INSERT INTO usage_ledger (resource_id, metric, hour, quantity, events)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::float8[], $5::bigint[])
           ON CONFLICT (resource_id, metric, hour) DO UPDATE
             SET quantity = usage_ledger.quantity + excluded.quantity, events = usage_ledger.events + excluded.events`,
          [
            list.map((s) => s.resourceId),
            list.map((s) => s.metric),
            list.map((s) => new Date(s.hour).toISOString()),
            list.map((s) => s.quantity),
            list.map((s) => s.events),
          ],
        );
      }
      const next = BigInt(lastOffset) + 1n;
      if (next > watermark) {
        await client.query(
          'UPDATE ledger_watermarks SET next_offset = $4 WHERE consumer = $1 AND topic = $2 AND partition = $3',
          [this.consumer, topic, partition, next.toString()],
        );
      }
      return list.length;
    });
  }

  /** Runs `fn` holding the counters' generation exclusively (ADR 0011): batches recording meanwhile wait,
   * and every batch recorded before is visible to `fn`'s reads, which go through `db` (the same
   * connection: blocked batches may hold every other one of the pool). `fn` returns the new generation
   * to store, or null to leave it. */
  async withGeneration(fn: (generation: number, db: PoolClient) => Promise<number | null>): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        'INSERT INTO counter_generations (consumer, generation) VALUES ($1, 0) ON CONFLICT DO NOTHING',
        [this.consumer],
      );
      const { rows } = await client.query<{ generation: string }>(
        'SELECT generation FROM counter_generations WHERE consumer = $1 FOR UPDATE',
        [this.consumer],
      );
      const next = await fn(Number(rows[0]!.generation), client);
      if (next !== null)
        await client.query('UPDATE counter_generations SET generation = $2 WHERE consumer = $1', [
          this.consumer,
          next,
        ]);
    });
  }

  /** resourceId -> metric -> total of the hours in [start, end). */
  async periodTotals(
    start: number,
    end: number,
    resourceIds?: string[],
    db: Db = this.pool,
  ): Promise<Map<string, Record<string, number>>> {
    const params: unknown[] = [new Date(start).toISOString(), new Date(end).toISOString()];
    let filter = '';
    if (resourceIds) {
      params.push(resourceIds);
      filter = 'AND resource_id = ANY($3::uuid[])';
    }
    const { rows } = await db.query<{ resource_id: string; metric: string; total: number }>(
      `SELECT resource_id, metric, sum(quantity) AS total FROM usage_ledger
       WHERE hour >= $1 AND hour < $2 ${filter} GROUP BY resource_id, metric`,
      params,
    );
    const out = new Map<string, Record<string, number>>();
    for (const r of rows) {
      const m = out.get(r.resource_id) ?? {};
      m[r.metric] = Number(r.total);
      out.set(r.resource_id, m);
    }
    return out;
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
