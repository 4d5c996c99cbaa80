import type { Pool } from '@meterline/db';
import { pg } from '@meterline/db';
import { type Resource, ResourceStore } from '@meterline/resources';
import type { Logger } from '@meterline/runtime';
import { ExpiringMemo } from './memo.ts';

const NEGATIVE_TTL_MS = 5_000;

/** How many entries the directory keeps (each kind). A resource's entry is ~250 bytes; ids that are
 * not resources come from producers' mistakes or worse, at any rate, so both are bounded. */
export interface DirectoryLimits {
  /** resources cached (when full, the cache starts again: the next batches read Postgres once each) */
  known: number;
  /** ids recently found to be no resource (when full, the expired ones go, or else all) */
  missing: number;
}

const defaultDirectoryLimits: DirectoryLimits = { known: 500_000, missing: 100_000 };

/** The resources the pipeline counts for, cached. The api announces every change on a Postgres
 * channel (migration 001's trigger), so a provision, plan change or deprovision is seen at once. */
export class ResourceDirectory {
  private readonly known = new Map<string, Resource>();
  private readonly store: ResourceStore;
  private readonly missing: ExpiringMemo<string>;
  private listener: pg.Client | null = null;
  private stopped = false;

  constructor(
    pool: Pool,
    private readonly log: Logger,
    private readonly listen: { databaseUrl: string; schema: string } | null = null,
    /** called after a resource changed (provisioned, plan changed, deprovisioned) */
    private readonly onChange: (id: string) => void = () => {},
    private readonly limits: DirectoryLimits = defaultDirectoryLimits,
  ) {
    this.missing = new ExpiringMemo(NEGATIVE_TTL_MS, limits.missing);
    this.store = new ResourceStore(pool);
  }

  /** A directory listening for the api's changes in the service's database schema, started. */
  static async listening(
    pool: Pool,
    log: Logger,
    db: { databaseUrl: string; databaseSchema: string | undefined },
    onChange?: (id: string) => void,
  ): Promise<ResourceDirectory> {
    const listen = { databaseUrl: db.databaseUrl, schema: db.databaseSchema ?? 'public' };
    const directory = new ResourceDirectory(pool, log, listen, onChange);
    await directory.start();
    return directory;
  }

  /** How many resources and missing ids are cached now. */
  get cached(): { known: number; missing: number } {
    return { known: this.known.size, missing: this.missing.size };
  }

  /** Connects the change listener; while it is down the cache is not trusted (every lookup reads
   * Postgres) and reconnecting is retried with backoff until it works. */
  async start(): Promise<void> {
    if (!this.listen) return;
    const client = new pg.Client({ connectionString: this.listen.databaseUrl });
    client.on('error', (err) => {
      if (this.stopped) return;
      this.log.warn({ err }, 'resource listener lost; cache off until it reconnects');
      this.listener = null;
      this.known.clear();
      void this.reconnect();
    });
    client.on('notification', (msg) => {
      const [schema, id] = (msg.payload ?? '').split(':');
      if (schema === this.listen?.schema && id) {
        this.forget(id);
        this.onChange(id);
      }
    });
    await client.connect();
    await client.query('LISTEN meterline_resource_changed');
    // Rows cached while nobody listened may have changed since: start from nothing.
    this.known.clear();
    this.listener = client;
  }

  private async reconnect(): Promise<void> {
    for (let attempt = 0; !this.stopped && !this.listener; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** attempt)).unref());
      if (this.stopped) return;
      try {
        await this.start();
        this.log.info('resource listener reconnected');
      } catch (err) {
        this.log.warn({ err, attempt }, 'resource listener still down');
      }
    }
  }

  forget(id: string): void {
    this.known.delete(id);
    this.missing.delete(id);
  }

  /** Looks up every id, one query for all cache misses. null = no such resource. */
  async getMany(ids: Iterable<string>, now = Date.now()): Promise<Map<string, Resource | null>> {
    const out = new Map<string, Resource | null>();
    const toLoad: string[] = [];
    const trusted = this.listener !== null || !this.listen;
    for (const id of new Set(ids)) {
      const hit = trusted ? this.known.get(id) : undefined;
      if (hit) out.set(id, hit);
      else if (this.missing.has(id, now)) out.set(id, null);
      else toLoad.push(id);
    }
    if (toLoad.length > 0) {
      for (const resource of await this.store.getMany(toLoad)) {
        if (this.known.size >= this.limits.known) this.known.clear();
        this.known.set(resource.id, resource);
        out.set(resource.id, resource);
      }
      for (const id of toLoad) {
        if (!out.has(id)) {
          this.missing.add(id, now);
          out.set(id, null);
        }
      }
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const l = this.listener;
    this.listener = null;
    if (l) {
      l.removeAllListeners('error');
      l.on('error', () => {});
      await l.end().catch(() => {});
    }
  }
}

/** Whether usage at `timestamp` may count for the resource: it is provisioned, or the usage
 * happened before it was deprovisioned (a late event of a live resource). */
export function countsFor(resource: Resource, timestamp: number): boolean {
  if (resource.state === 'provisioned') return true;
  return (
    resource.state === 'deprovisioned' &&
    resource.deprovisionedAt !== null &&
    timestamp < resource.deprovisionedAt
  );
}
