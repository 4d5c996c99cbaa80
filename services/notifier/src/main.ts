import { runService } from '@meterline/runtime';
import { readNotifierConfig } from './config.ts';
import { startNotifier } from './wire.ts';

await runService('notifier', async (log) => startNotifier(readNotifierConfig(), log));
