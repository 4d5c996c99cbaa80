export { PlanBook } from './compose.ts';
export { type NotifierConfig, readNotifierConfig } from './config.ts';
export { type DeliveryState, listNotifications, type NotificationRecord } from './notifications.ts';
export { recordProvisionRefusals, refusalNoticeId } from './refusals.ts';
export { DeliveryStore } from './store.ts';
export { type RunningNotifier, startNotifier } from './wire.ts';
