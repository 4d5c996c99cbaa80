import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

/** One message the catcher accepted: the SMTP envelope, the raw bytes and the parsed message. */
export interface CaughtMail {
  from: string;
  /** Envelope recipients (RCPT TO), lower-cased. */
  to: string[];
  raw: string;
  parsed: ParsedMail;
  /** A header by lower-case name, as text ('' when absent). */
  header(name: string): string;
  receivedAt: number;
}

/** A real SMTP server for one test: records what it accepts, can be stopped and started again on
 * the same port (an outage), answers 5xx for chosen recipients and can be slowed down per message. */
export interface SmtpCatcher {
  readonly port: number;
  readonly url: string;
  readonly mails: CaughtMail[];
  /** Recipients (lower-case address) answered with this 5xx text at RCPT TO, e.g. '5.1.1 mailbox unavailable'. */
  readonly reject: Map<string, string>;
  /** Milliseconds to wait before accepting each message's data. */
  delayMs: number;
  readonly running: boolean;
  /** Closes the listener and drops every open connection. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Mails addressed to this recipient (envelope), in arrival order. */
  mailsTo(address: string): CaughtMail[];
  close(): Promise<void>;
}

export async function startSmtpCatcher(opts: { port?: number; delayMs?: number } = {}): Promise<SmtpCatcher> {
  const mails: CaughtMail[] = [];
  const reject = new Map<string, string>();
  let server: SMTPServer | null = null;
  let port = opts.port ?? 0;

  const options: SMTPServerOptions = {
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    // Pooled clients keep idle connections: close them at once on stop rather than after 30 s.
    closeTimeout: 50,
    logger: false,
    onRcptTo(address, _session, callback) {
      const refusal = reject.get(address.address.toLowerCase());
      if (refusal === undefined) return callback();
      const err = new Error(refusal) as Error & { responseCode: number };
      err.responseCode = 550;
      return callback(err);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const finish = () => {
          simpleParser(raw)
            .then((parsed) => {
              mails.push({
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
                raw,
                parsed,
                header: (name) => {
                  const v = parsed.headers.get(name.toLowerCase());
                  return v === undefined ? '' : String(v);
                },
                receivedAt: Date.now(),
              });
              callback();
            })
            .catch((err: Error) => callback(err));
        };
        if (catcher.delayMs > 0) setTimeout(finish, catcher.delayMs);
        else finish();
      });
    },
  };

  const listen = () =>
    new Promise<void>((resolve, reject_) => {
      const s = new SMTPServer(options);
      s.on('error', () => {});
      s.server.once('error', reject_);
      s.listen(port, '127.0.0.1', () => {
        port = (s.server.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });

  const catcher: SmtpCatcher = {
    get port() {
      return port;
    },
    get url() {
      return `smtp://127.0.0.1:${port}`;
    },
    mails,
    reject,
    delayMs: opts.delayMs ?? 0,
    get running() {
      return server !== null;
    },
    async stop() {
      const s = server;
      server = null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    start: listen,
    mailsTo(address) {
      const a = address.toLowerCase();
      return mails.filter((m) => m.to.includes(a));
    },
    close() {
      return catcher.stop();
    },
  };
  await listen();
  return catcher;
}
