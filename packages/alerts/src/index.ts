/** The owner of the evaluator's tables: the alerts outbox (alerts) and the downgrade-block flags
 * (plan_flags, with their Redis copy). */
export { FlagStore, readFlag, storedFlag } from './flags.ts';
export {
  AlertOutbox,
  type DecidedAlert,
  listAlerts,
  publishedAlertsSince,
  type RecordedAlert,
  recordedAlerts,
  type StoredAlert,
} from './outbox.ts';
export { OutboxPublisher, type OutboxPublisherDeps } from './publisher.ts';
