export { type AddressCheck, checkAddress } from './address.ts';
export {
  ALERT_SEVERITIES,
  type AlertForEmail,
  type AlertKind,
  type AlertSeverity,
  type EmailContext,
  type RenderedEmail,
} from './alert.ts';
export { type AlertEmailItem, renderAlertEmail } from './alert-email.ts';
export { coalesce, headlineAlert, inTierOrder } from './coalesce.ts';
export { escapeHtml } from './layout.ts';
export {
  ACCESS_ROLES,
  type AccessEntry,
  type AccessRole,
  chooseRecipients,
  DEFAULT_RECIPIENT_POLICY,
  type Person,
  parseRecipientPolicy,
  type Recipient,
  type RecipientPolicy,
  RecipientPolicyError,
} from './recipients.ts';
export {
  type AddonDisabledView,
  type ProvisionRefusalView,
  refusalRecipients,
  renderAddonDisabledEmail,
  renderProvisionRefusalEmail,
} from './refusal-email.ts';
