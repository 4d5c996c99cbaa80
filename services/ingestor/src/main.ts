import { runService } from '@meterline/runtime';
import { readIngestorConfig } from './config.ts';
import { startIngestor } from './wire.ts';

await runService('ingestor', async (log) => {
  return startIngestor(readIngestorConfig(), log);
});
