export { type NotifierConfig, readNotifierConfig } from './config.ts';
export { type DeliveryState, listNotifications, type NotificationRecord } from './notifications.ts';
export { type RunningNotifier, startNotifier } from './wire.ts';
