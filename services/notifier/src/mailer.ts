import nodemailer from 'nodemailer';
import type { SmtpSettings } from './config.ts';

interface OutgoingEmail {
  from: string;
  to: string;
  messageId: string;
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
}

interface SendReceipt {
  messageId: string;
  response: string;
}

/** The notifier's one outgoing capability. The real one is SMTP; tests use a real SMTP server too. */
export interface Mailer {
  send(email: OutgoingEmail): Promise<SendReceipt>;
  close(): void;
}

export interface SendFailure {
  /** A 5xx answer: retrying the same message to the same recipient cannot help. */
  permanent: boolean;
  message: string;
  response: string | null;
}

/** Sorts an SMTP error: 5xx is permanent (the server's reason kept); 4xx, refused connections and
 * timeouts are worth retrying. */
export function classifySmtpError(err: unknown): SendFailure {
  const e = err as { responseCode?: number; response?: string; code?: string; message?: string };
  const response = typeof e.response === 'string' ? e.response : null;
  const code = typeof e.responseCode === 'number' ? e.responseCode : null;
  const message = response ?? `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`;
  return { permanent: code !== null && code >= 500 && code < 600, message, response };
}

export function createSmtpMailer(
  smtp: SmtpSettings,
  opts: { maxConnections: number; timeoutMs: number },
): Mailer {
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    ...(smtp.auth ? { auth: smtp.auth } : {}),
    pool: true,
    maxConnections: opts.maxConnections,
    maxMessages: 500,
    connectionTimeout: Math.min(opts.timeoutMs, 10_000),
    greetingTimeout: Math.min(opts.timeoutMs, 10_000),
    socketTimeout: opts.timeoutMs,
  });
  return {
    async send(email) {
      const info = await transport.sendMail({
        from: email.from,
        to: email.to,
        messageId: email.messageId,
        subject: email.subject,
        text: email.text,
        html: email.html,
        headers: email.headers,
      });
      return { messageId: info.messageId, response: String(info.response ?? '') };
    },
    close() {
      transport.close();
    },
  };
}
