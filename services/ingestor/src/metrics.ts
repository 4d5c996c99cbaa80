import type { RebuildReport } from '@meterline/metering';
import { Counter, Gauge, Histogram, type Logger, type Registry } from '@meterline/runtime';

export function ingestorMetrics(registry: Registry) {
  return {
    events: new Counter({
      name: 'meterline_ingest_events_total',
      help: 'Usage events handled, by outcome (counted, counted-before, duplicate, dlq)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    dlq: new Counter({
      name: 'meterline_ingest_dlq_total',
      help: 'Usage events sent to the DLQ, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: 'meterline_ingest_batch_seconds',
      help: 'Time to handle one fetched batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    lagSeconds: new Histogram({
      name: 'meterline_ingest_lag_seconds',
      help: 'From the event timestamp to its counter updated: the oldest event of each metric and 5-minute bucket per resource and batch',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    rebuilds: new Counter({
      name: 'meterline_counter_rebuilds_total',
      help: 'Times this process rebuilt Redis counters from the ledger, by cause: markers-missing (Redis lost data, or the first generation) or redis-older (Redis restarted holding less than the ledger)',
      labelNames: ['cause'] as const,
      registers: [registry],
    }),
    partitionLag: new Gauge({
      name: 'meterline_ingest_partition_lag',
      help: "Records of the events topic behind the last batch fetched, per partition this process reads (the partition's high watermark minus the batch's last offset; reset at each rebalance)",
      labelNames: ['partition'] as const,
      registers: [registry],
    }),
    driftResources: new Gauge({
      name: 'meterline_counter_drift',
      help: 'Resource-metric counters of the current period that differ between Redis and the ledger at the last reconciliation',
      registers: [registry],
    }),
  };
}

export type IngestorMetrics = ReturnType<typeof ingestorMetrics>;

/** The resource directory's cache sizes, read at each scrape: resources cached (bounded, see
 * `DirectoryLimits`) and ids recently found to be no resource (a producer sending ids that are not
 * resources shows here). */
export function resourceCacheGauge(registry: Registry, cached: () => { known: number; missing: number }) {
  return new Gauge({
    name: 'meterline_ingest_resource_cache',
    help: 'Entries of the resource directory cache: known (resources) and missing (ids found to be no resource in the last seconds)',
    labelNames: ['kind'] as const,
    registers: [registry],
    collect() {
      const { known, missing } = cached();
      this.set({ kind: 'known' }, known);
      this.set({ kind: 'missing' }, missing);
    },
  });
}

/** Counts a rebuild of the counters from the ledger and says why, as loudly as it deserves. */
export function logRebuild(metrics: IngestorMetrics, log: Logger, report: RebuildReport): void {
  const { shards, counters, generation, cause } = report;
  metrics.rebuilds.inc({ cause });
  const what = { shards: shards.length, counters, generation, cause };
  if (generation === 1) log.info(what, 'counters given their first generation (rebuilt from the ledger)');
  else if (cause === 'redis-older')
    log.warn(what, 'Redis restarted holding less than the ledger: every counter rebuilt from the ledger');
  else log.warn(what, 'Redis had lost counters: rebuilt from the ledger');
}
