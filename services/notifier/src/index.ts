export { PlanBook } from './compose.ts';
export { type NotifierConfig, readNotifierConfig } from './config.ts';
export { notifierMetrics } from './metrics.ts';
export { RefusalNotices, refusalNoticeId } from './refusals.ts';
export { type RunningNotifier, startNotifier } from './wire.ts';
