export {
  CHANGES_PER_MESSAGE,
  type CounterChange,
  counterChangeMessages,
  readCounterChanges,
} from './changes.ts';
export { collectUsageEvents, type UsageRecord } from './collect.ts';
export {
  type CountedBatch,
  type CountedGroup,
  type CounterSettings,
  CounterStore,
  CountersLostError,
  type CountResult,
  ResourceEvents,
} from './counters.ts';
export { UsageEventDecoder } from './decode.ts';
export { counterFields, flagsCopyKey, generationKey, keys, resourceKeys } from './keys.ts';
export {
  type CounterGeneration,
  clearLedger,
  GenerationMismatchError,
  type LedgerDay,
  type LedgerHour,
  type LedgerRow,
  ledgerDays,
  ledgerEventCount,
  ledgerEventsByMetric,
  ledgerHoursOfDays,
  ledgerTotals,
  recordedPartitions,
  UsageLedger,
} from './ledger.ts';
export { hourOf } from './period.ts';
export {
  CounterRebuilder,
  type RebuildReport,
  rebuildLostCounters,
  retainedPeriods,
  watchCounters,
} from './rebuild.ts';
export { type CounterDifference, findDrift, recount } from './recount.ts';
export { countsFor, ResourceDirectory } from './resources.ts';
export {
  defaultValidation,
  Rejection,
  type RejectReason,
  UUID,
  type ValidationSettings,
  validateUsageEvent,
} from './validate.ts';
