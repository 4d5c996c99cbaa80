/** The owner of the notifier's tables: alerts and notices as received (notifier_alerts), deliveries
 * and composed emails (ADR 0005). */
export { type DeliveryBacklog, deliveryBacklog } from './backlog.ts';
export { type DeliveryState, listNotifications, type NotificationRecord } from './notifications.ts';
export {
  type ComposableDelivery,
  type ComposedEmail,
  type DeliveryRecord,
  DeliveryStore,
  deliveryTo,
  type NewDelivery,
  type Notice,
  type ReceivedAlert,
  type RecordOutcome,
  type StoredEmail,
} from './store.ts';
