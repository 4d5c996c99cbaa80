export { type EvaluatorConfig, readEvaluatorConfig } from './config.ts';
export { evaluatorMetrics } from './metrics.ts';
export { type RunningEvaluator, startEvaluator } from './wire.ts';
