export { type EvaluatorConfig, readEvaluatorConfig } from './config.ts';
export { readFlag } from './flags.ts';
export { type RunningEvaluator, startEvaluator } from './wire.ts';
