export { type IngestorConfig, readIngestorConfig } from './config.ts';
export { ingestorMetrics, resourceCacheGauge } from './metrics.ts';
export { type RunningIngestor, startIngestor } from './wire.ts';
