/** The plan advisor: replays the ledger's past usage under a proposed plan catalog beside the current
 * one, and reports what would have happened (ADR 0016). Reads only. */
export { AbuseDetector, type AbuseRule, type AbuseSignal, DEFAULT_ABUSE_RULE } from './abuse.ts';
export {
  type BacktestOptions,
  type BacktestReport,
  backtest,
  compareWithRecorded,
  type DowngradeChange,
  type RecordedCheck,
} from './backtest.ts';
export {
  isLive,
  type PeriodUsage,
  periodsBetween,
  type ReplayedAlert,
  type ResourceTimeline,
  replayAlerts,
  type UsageHour,
  usageByPeriod,
} from './replay.ts';
export {
  type BetterPlan,
  betterPlan,
  type CatalogOutcome,
  OutcomeBuilder,
  type OverLimit,
  type PlanMetricOutcome,
  percentile,
  type RuleCrossings,
  SHARE_BUCKETS,
  type TierCount,
} from './summary.ts';
export { formatReport, textHistogram } from './text.ts';
