export { type IngestorConfig, readIngestorConfig } from './config.ts';
export { type RunningIngestor, startIngestor } from './wire.ts';
