import { type DatabaseSettings, databaseEnv } from '@meterline/db';
import { type KafkaServiceSettings, kafkaEnv } from '@meterline/kafka';
import {
  checkAddress,
  parseRecipientPolicy,
  type RecipientPolicy,
  RecipientPolicyError,
} from '@meterline/notifications';
import { env, envSchema, readEnv } from '@meterline/runtime';

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

const notifierEnv = envSchema(
  {
    PLANS_FILE: env.string(),
    NOTIFIER_PORT: env.int({ default: 9103, min: 0, max: 65535 }),
    SMTP_URL: env.url(['smtp', 'smtps'], { secret: true }),
    EMAIL_FROM: env.string().transform((text, ctx) => {
      const from = parseFrom(text);
      if (typeof from === 'string')
        ctx.addIssue({ code: 'custom', message: `not a usable From address: ${from}` });
      return { text, domain: typeof from === 'string' ? 'meterline.invalid' : from.address.split('@')[1]! };
    }),
    ALERT_RECIPIENTS: env.optionalString().transform((text, ctx) => {
      try {
        return parseRecipientPolicy(text);
      } catch (err) {
        if (!(err instanceof RecipientPolicyError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message.replace(/^ALERT_RECIPIENTS: /, '') });
        return parseRecipientPolicy(undefined);
      }
    }),
    DASHBOARD_URL: env.url(['http', 'https'], { default: 'http://127.0.0.1:3000' }),
    PROVIDER_NAME: env.string({ default: 'Meterline' }),
    SUPPORT_CONTACT: env.optionalString(),
    NOTIFY_COALESCE_SECONDS: env.number({ default: 10, min: 0, max: 3600 }),
    NOTIFY_SEND_CONCURRENCY: env.int({ default: 5, min: 1, max: 50 }),
    NOTIFY_POLL_MS: env.int({ default: 500, min: 20 }),
    NOTIFY_RETRY_BASE_MS: env.int({ default: 2000, min: 10 }),
    NOTIFY_RETRY_MAX_MS: env.int({ default: 300_000, min: 10 }),
    NOTIFY_GIVE_UP_HOURS: env.number({ default: 72, min: 0.001 }),
    SMTP_TIMEOUT_MS: env.int({ default: 30_000, min: 100 }),
  },
  (e) => ({
    plansFile: e.PLANS_FILE,
    opsPort: e.NOTIFIER_PORT,
    smtp: parseSmtpUrl(e.SMTP_URL),
    emailFrom: e.EMAIL_FROM.text,
    messageIdDomain: e.EMAIL_FROM.domain,
    recipientPolicy: e.ALERT_RECIPIENTS,
    dashboardUrl: e.DASHBOARD_URL.replace(/\/+$/, ''),
    providerName: e.PROVIDER_NAME,
    supportContact: e.SUPPORT_CONTACT,
    coalesceMs: e.NOTIFY_COALESCE_SECONDS * 1000,
    sendConcurrency: e.NOTIFY_SEND_CONCURRENCY,
    pollIntervalMs: e.NOTIFY_POLL_MS,
    retryBaseMs: e.NOTIFY_RETRY_BASE_MS,
    retryMaxMs: e.NOTIFY_RETRY_MAX_MS,
    giveUpMs: e.NOTIFY_GIVE_UP_HOURS * 3_600_000,
    smtpTimeoutMs: e.SMTP_TIMEOUT_MS,
  }),
);

export function readNotifierConfig(source: Record<string, string | undefined> = process.env): NotifierConfig {
  const c = readEnv({ kafka: kafkaEnv('notifier'), database: databaseEnv, notifier: notifierEnv }, source);
  return { ...c.kafka, ...c.database, ...c.notifier };
}
