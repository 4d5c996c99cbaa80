import { runService } from '@meterline/runtime';
import { readEvaluatorConfig } from './config.ts';
import { startEvaluator } from './wire.ts';

await runService('evaluator', async (log) => {
  // Fault injection for the crash test only: die right after alerts are recorded, before publishing.
  const crash = process.env.EVALUATOR_FAULT === 'crash-before-publish';
  return startEvaluator(readEvaluatorConfig(), log, {
    ...(crash ? { afterRecord: () => process.kill(process.pid, 'SIGKILL') } : {}),
  });
});
