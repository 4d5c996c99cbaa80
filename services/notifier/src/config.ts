import { type DatabaseSettings, readDatabaseSettings } from '@meterline/db';
import { type KafkaServiceSettings, readKafkaSettings } from '@meterline/kafka';
import {
  checkAddress,
  parseRecipientPolicy,
  type RecipientPolicy,
  RecipientPolicyError,
} from '@meterline/notifications';
import { ConfigError, configReader } from '@meterline/runtime';

export interface SmtpSettings {
  host: string;
  port: number;
  secure: boolean;
  auth: { user: string; pass: string } | undefined;
}

export interface NotifierConfig extends KafkaServiceSettings, DatabaseSettings {
  plansFile: string;
  opsPort: number;
  smtp: SmtpSettings;
  /** The From header, checked like any recipient: `"Meterline" <alerts@example.com>` or a bare address. */
  emailFrom: string;
  /** The domain of the From address: the right-hand side of every Message-ID. */
  messageIdDomain: string;
  recipientPolicy: RecipientPolicy;
  /** The dashboard link of a resource is `${dashboardUrl}/dashboard/${resourceId}`. */
  dashboardUrl: string;
  providerName: string;
  supportContact: string | undefined;
  /** How long a delivery waits for other tiers of its resource to share one email (ADR 0005). */
  coalesceMs: number;
  /** Emails sent at once (and pooled SMTP connections). */
  sendConcurrency: number;
  pollIntervalMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** A delivery still not accepted after this long is marked failed with its last error. */
  giveUpMs: number;
  /** SMTP socket timeout: bounds how long one send can hold its email. */
  smtpTimeoutMs: number;
}

/** EMAIL_FROM as "Name <address>" or "address". */
function parseFrom(value: string): { address: string; name: string | undefined } | string {
  const m = /^\s*(?:"?([^"<]*?)"?\s*)?<([^<>]+)>\s*$/.exec(value);
  const address = (m ? m[2]! : value).trim();
  const name = m?.[1]?.trim() || undefined;
  const check = checkAddress(address, name);
  return check.ok ? { address, name } : check.reason;
}

function parseSmtpUrl(url: string): SmtpSettings {
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    auth: u.username
      ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) }
      : undefined,
  };
}

export function readNotifierConfig(env: Record<string, string | undefined> = process.env): NotifierConfig {
  const c = configReader(env);
  const extra: { variable: string; problem: string }[] = [];
  const smtpUrl = c.url('SMTP_URL', ['smtp', 'smtps'], { secret: true });
  const fromText = c.string('EMAIL_FROM');
  const from = fromText ? parseFrom(fromText) : null;
  if (typeof from === 'string')
    extra.push({ variable: 'EMAIL_FROM', problem: `not a usable From address: ${from}` });
  let recipientPolicy = parseRecipientPolicy(undefined);
  try {
    recipientPolicy = parseRecipientPolicy(env.ALERT_RECIPIENTS);
  } catch (err) {
    if (!(err instanceof RecipientPolicyError)) throw err;
    extra.push({ variable: 'ALERT_RECIPIENTS', problem: err.message.replace(/^ALERT_RECIPIENTS: /, '') });
  }
  const config: NotifierConfig = {
    ...readKafkaSettings(c, 'notifier'),
    ...readDatabaseSettings(c),
    plansFile: c.string('PLANS_FILE'),
    opsPort: c.int('NOTIFIER_PORT', { default: 9103, min: 0, max: 65535 }),
    smtp: smtpUrl ? parseSmtpUrl(smtpUrl) : { host: '', port: 0, secure: false, auth: undefined },
    emailFrom: fromText,
    messageIdDomain: from && typeof from !== 'string' ? from.address.split('@')[1]! : 'meterline.invalid',
    recipientPolicy,
    dashboardUrl: c
      .url('DASHBOARD_URL', ['http', 'https'], { default: 'http://127.0.0.1:3000' })
      .replace(/\/+$/, ''),
    providerName: c.string('PROVIDER_NAME', { default: 'Meterline' }),
    supportContact: c.optionalString('SUPPORT_CONTACT'),
    coalesceMs: c.number('NOTIFY_COALESCE_SECONDS', { default: 10, min: 0, max: 3600 }) * 1000,
    sendConcurrency: c.int('NOTIFY_SEND_CONCURRENCY', { default: 5, min: 1, max: 50 }),
    pollIntervalMs: c.int('NOTIFY_POLL_MS', { default: 500, min: 20 }),
    retryBaseMs: c.int('NOTIFY_RETRY_BASE_MS', { default: 2000, min: 10 }),
    retryMaxMs: c.int('NOTIFY_RETRY_MAX_MS', { default: 300_000, min: 10 }),
    giveUpMs: c.number('NOTIFY_GIVE_UP_HOURS', { default: 72, min: 0.001 }) * 3_600_000,
    smtpTimeoutMs: c.int('SMTP_TIMEOUT_MS', { default: 30_000, min: 100 }),
  };
  try {
    c.done();
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError([...err.problems, ...extra]);
    throw err;
  }
  if (extra.length > 0) throw new ConfigError(extra);
  return config;
}
