export { type EvaluatorConfig, readEvaluatorConfig } from './config.ts';
export { type RunningEvaluator, startEvaluator } from './wire.ts';
