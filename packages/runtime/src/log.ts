import pino, { type Logger } from 'pino';

export type { Logger };

/** One structured logger per service. Secrets are redacted by path wherever they might appear. */
export function createLogger(service: string, opts: { level?: string } = {}): Logger {
  return pino({
    name: service,
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { service },
    redact: {
      paths: [
        'password',
        '*.password',
        'token',
        '*.token',
        'secret',
        '*.secret',
        'authorization',
        '*.authorization',
        'config.*',
      ],
      censor: '(hidden)',
    },
  });
}
