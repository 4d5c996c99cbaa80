import { runService } from '@meterline/runtime';
import { readApiConfig } from './config.ts';
import { startApi } from './wire.ts';

await runService('api', async (log) => startApi(readApiConfig(), log));
