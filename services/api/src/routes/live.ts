/** The live page (ADR 0019): /console/live renders what the feed holds and the stored alerts of the
 * last day; /console/live/stream sends what follows as server-sent events, resuming from the browser's
 * Last-Event-ID. Every row passes the viewer's client scope first, then the page's filters. */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { type ClientScope, scopeOf } from '@meterline/access';
import { publishedAlertsSince, type StoredAlert } from '@meterline/alerts';
import type { Resource } from '@meterline/resources';
import type { FastifyInstance } from 'fastify';
import {
  alertDetail,
  FILTER_FIELDS,
  filterOf,
  type LiveFilter,
  type LiveRow,
  livePage,
  liveRowHtml,
  matches,
} from '../console/live.ts';
import type { ApiDeps } from '../deps.ts';
import type { LiveFeed, LiveRecord } from '../live/feed.ts';
import { CONTENT_SECURITY_POLICY } from '../security-headers.ts';
import type { ConsolePages } from './console.ts';

const SCRIPT = readFileSync(new URL('../../static/live.js', import.meta.url), 'utf8');
const DAY = 86_400_000;
/** Alerts published this long before a foreign cursor are sent again on resume (the page drops the
 * rows it has): publish times of different api and Postgres clocks are close, not equal. */
const RESUME_OVERLAP_MS = 5_000;
const HEARTBEAT_MS = 15_000;
/** Only the live page runs a script: its own file, with its own event stream (no inline script). */
const LIVE_POLICY = `${CONTENT_SECURITY_POLICY}; script-src 'self'; connect-src 'self'`;

export function liveRoutes(app: FastifyInstance, { deps, page, view, html }: ConsolePages): void {
  app.get('/console/live.js', async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(SCRIPT),
  );

  page('/console/live', async (s, request, reply) => {
    const filter = filterOf(request.query as Record<string, unknown>);
    const scope = scopeOf(s.viewer);
    const rowOf = rowMaker(deps, scope);
    const feed = deps.live;
    let streamUrl: string | null = null;
    let buffered: LiveRecord[] = [];
    let flash = null;
    if (feed) {
      try {
        await feed.start();
        buffered = [...feed.recent()];
        streamUrl = `/console/live/stream?${queryOf(filter)}after=${encodeURIComponent(cursorOf(feed))}`;
      } catch (err) {
        deps.log.error({ err }, 'live feed could not start');
        flash = { kind: 'error' as const, text: 'The live feed could not reach Kafka: reload to try again.' };
      }
    }
    // published_at is Postgres's wall clock, not the business clock.
    const stored = await publishedAlertsSince(deps.pool, {
      since: Date.now() - DAY,
      resourceIds: await resourceIdsOf(deps, scope),
      limit: 200,
    });
    const rows = new Map<string, LiveRow>();
    for (const a of stored) {
      const row = await rowOf(storedRecord(a));
      if (row && matches(row, filter)) rows.set(row.key, row);
    }
    for (const r of buffered) {
      const row = await rowOf(r);
      if (row && matches(row, filter)) rows.set(row.key, row);
    }
    const kinds = [
      'THRESHOLD',
      'PACE',
      'flag',
      'dlq',
      ...new Set(buffered.flatMap((r) => (r.type === 'dlq' ? [r.reason] : []))),
    ];
    const sorted = [...rows.values()].sort((a, b) => b.at - a.at).slice(0, 500);
    reply.header('content-security-policy', LIVE_POLICY);
    return html(reply, 200, livePage(view(s, flash), { rows: sorted, filter, streamUrl, kinds }));
  });

  const open = new Set<ServerResponse>();
  // Streams never end by themselves: closing the server ends them first.
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });

  page('/console/live/stream', async (s, request, reply) => {
    const feed = deps.live;
    if (!feed)
      return reply
        .code(404)
        .send({ message: 'The live feed is off: this api has no KAFKA_BROKERS and SCHEMA_REGISTRY_URL.' });
    try {
      await feed.start();
    } catch (err) {
      deps.log.error({ err }, 'live feed could not start');
      return reply.code(503).send({ message: 'The live feed cannot reach Kafka right now.' });
    }
    const filter = filterOf(request.query as Record<string, unknown>);
    const scope = scopeOf(s.viewer);
    const rowOf = rowMaker(deps, scope);
    const header = request.headers['last-event-id'];
    const after = (typeof header === 'string' && header) || filterQuery(request.query, 'after');

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-accel-buffering': 'no',
    });
    open.add(res);
    const sent = new Set<string>();
    // The feed's position after the record, and when the record was published.
    const eventId = (r: LiveRecord) => `${feed.epoch}.${r.seq}.${r.at}`;
    const write = (id: string | null, event: string, data: string) => {
      if (!res.writableEnded) res.write(`${id ? `id: ${id}\n` : ''}event: ${event}\ndata: ${data}\n\n`);
    };
    const send = async (record: LiveRecord, id: string | null) => {
      const row = await rowOf(record);
      if (!row || !matches(row, filter) || sent.has(row.key)) return;
      sent.add(row.key);
      write(id, 'row', JSON.stringify({ key: row.key, html: liveRowHtml(row) }));
    };

    // Subscribing and reading the buffer in one turn: every record is either replayed or delivered,
    // never both, never neither. The chain keeps them in order while rows are resolved.
    const here = cursorOf(feed);
    const replay = after ? feed.since(after) : [];
    let chain: Promise<void> = Promise.resolve();
    const unsubscribe = feed.subscribe((r) => {
      chain = chain.then(() => send(r, eventId(r)));
    });
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    request.raw.on('close', () => {
      unsubscribe();
      clearInterval(heartbeat);
      open.delete(res);
    });
    chain = chain.then(async () => {
      if (replay) for (const r of replay) await send(r, eventId(r));
      else {
        // Another instance's or an older run's id: the stored alerts since its time (flags and DLQ
        // records are only in the topics; those of the gap are not replayed, ADR 0019).
        const since = Number(/\.(\d+)$/.exec(after)?.[1] ?? Date.now());
        const missed = await publishedAlertsSince(deps.pool, {
          since: since - RESUME_OVERLAP_MS,
          resourceIds: await resourceIdsOf(deps, scope),
        });
        for (const a of missed) await send(storedRecord(a), null);
      }
      write(here, 'ready', '{}');
    });
    chain = chain.catch((err: unknown) => {
      deps.log.error({ err }, 'live stream failed');
      res.end();
    });
  });
}

function cursorOf(feed: LiveFeed): string {
  const last = feed.recent().at(-1);
  return `${feed.position()}.${last?.at ?? Date.now()}`;
}

const filterQuery = (query: unknown, name: string) => {
  const v = (query as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
};

const queryOf = (f: LiveFilter) =>
  FILTER_FIELDS.filter((k) => f[k])
    .map((k) => `${k}=${encodeURIComponent(f[k])}&`)
    .join('');

/** A stored alert as a feed record (its position is the store's, not the feed's). */
const storedRecord = (a: StoredAlert): LiveRecord => ({
  type: 'alert',
  seq: 0,
  at: a.publishedAt ?? a.occurredAt,
  resourceId: a.resourceId,
  alert: a,
});

/** The resources a scope may see, for the stored alerts' query; null: every resource. */
async function resourceIdsOf(deps: ApiDeps, scope: ClientScope): Promise<string[] | null> {
  if (scope.all) return null;
  const of = await Promise.all(scope.clientIds.map((c) => deps.resources.ofClient(c, scope)));
  return of.flat().map((r) => r.id);
}

/** Turns records into rows for one viewer: null when the record's resource is not theirs. A partner
 * employee sees only the rows of resources their clients own (a DLQ record without one: none). */
function rowMaker(deps: ApiDeps, scope: ClientScope) {
  const resources = new Map<string, Promise<Resource | null>>();
  const resourceOf = (id: string) => {
    if (resources.size > 10_000) resources.clear();
    let found = resources.get(id);
    if (!found) {
      found = deps.resources.get(id);
      resources.set(id, found);
    }
    return found;
  };
  return async (r: LiveRecord): Promise<LiveRow | null> => {
    const resource = r.resourceId ? await resourceOf(r.resourceId) : null;
    const clientId = resource?.ownerId ?? null;
    if (!scope.all && !(clientId && scope.clientIds.includes(clientId))) return null;
    const base = { at: r.at, resourceId: r.resourceId, clientId };
    if (r.type === 'alert')
      return {
        ...base,
        key: `alert:${r.alert.id}`,
        type: 'alert',
        plan: r.alert.plan,
        metric: r.alert.metric,
        severity: r.alert.severity,
        kind: r.alert.kind,
        detail: alertDetail(r.alert),
      };
    if (r.type === 'flag')
      return {
        ...base,
        key: `flag:${r.flag.resourceId}:${r.flag.updatedAt}`,
        type: 'flag',
        plan: resource?.plan ?? '',
        metric: '',
        severity: '',
        kind: 'flag',
        detail: r.flag.downgradeBlocked
          ? `downgrade to ${r.flag.blockedPlans.join(', ')} blocked: ${r.flag.reason}`
          : 'downgrades allowed again',
      };
    return {
      ...base,
      key: `dlq:${r.from}`,
      type: 'dlq',
      plan: resource?.plan ?? '',
      metric: '',
      severity: '',
      kind: r.reason,
      detail: r.error,
    };
  };
}
