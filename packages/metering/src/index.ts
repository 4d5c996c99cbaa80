export type { CounterChange } from './changes.ts';
export {
  type CountableEvent,
  type CounterSettings,
  CounterStore,
  type CountOutcome,
  type CountResult,
} from './counters.ts';
export { UsageEventDecoder } from './decode.ts';
export { keys } from './keys.ts';
export { type LedgerEntry, UsageLedger } from './ledger.ts';
export { DAY, HOUR, hourOf, type MonthPeriod, monthOf } from './period.ts';
export { type CounterDifference, findDrift, recount } from './recount.ts';
export { countsFor, ResourceDirectory, type ResourceInfo } from './resources.ts';
export {
  type Checked,
  defaultValidation,
  type RejectReason,
  type ValidationSettings,
  validateUsageEvent,
} from './validate.ts';
