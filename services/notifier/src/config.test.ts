import { ConfigError } from '@meterline/runtime';
import { describe, expect, it } from 'vitest';
import { readNotifierConfig } from './config.ts';
import { classifySmtpError } from './mailer.ts';

const base = {
  KAFKA_BROKERS: '127.0.0.1:19092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/meterline',
  PLANS_FILE: 'plans.example.yaml',
  SMTP_URL: 'smtp://user:s3cret@mail.example.com:2525',
  EMAIL_FROM: 'Meterline <alerts@meterline.example>',
};

describe('readNotifierConfig', () => {
  it('reads the SMTP server, the From address and the defaults', () => {
    const c = readNotifierConfig(base);
    expect(c.smtp).toEqual({
      host: 'mail.example.com',
      port: 2525,
      secure: false,
      auth: { user: 'user', pass: 's3cret' },
    });
    expect(c.messageIdDomain).toBe('meterline.example');
    expect(c.opsPort).toBe(9103);
    expect(c.dashboardUrl).toBe('http://127.0.0.1:3000');
    expect(c.coalesceMs).toBe(10_000);
    expect(c.groupId).toBe('meterline-notifier');
    expect(c.recipientPolicy.CRITICAL).toBe('all');
  });

  it('names every bad variable, without showing the SMTP password', () => {
    try {
      readNotifierConfig({
        ...base,
        SMTP_URL: 'http://user:s3cret@mail.example.com',
        EMAIL_FROM: 'Meterline <alerts@meterline.example>\r\nBcc: x@y.z',
        ALERT_RECIPIENTS: 'URGENT=all',
        NOTIFIER_PORT: 'x',
      });
      expect.unreachable('should throw');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const found = (err as ConfigError).problems.map((p) => `${p.variable}: ${p.problem}`);
      expect(found).toEqual([
        'NOTIFIER_PORT: expected an integer 0-65535, got "x"',
        'SMTP_URL: must use smtp or smtps, got http',
        expect.stringMatching(/^EMAIL_FROM: not a usable From address: /),
        expect.stringMatching(/^ALERT_RECIPIENTS: .*URGENT/),
      ]);
      expect((err as Error).message).not.toContain('s3cret');
    }
    expect(() => readNotifierConfig({ ...base, EMAIL_FROM: '' })).toThrow(/EMAIL_FROM: is required/);
    expect(() => readNotifierConfig({ ...base, SMTP_URL: 'smtp//user:s3cret@mail' })).toThrow(
      /SMTP_URL: expected a URL \(smtp or smtps\), got \(hidden\)/,
    );
    expect(() => readNotifierConfig({ ...base, KAFKA_BROKERS: '' })).toThrow(
      /KAFKA_BROKERS: is required but not set \(host:port\[,host:port\.\.\.\]\)/,
    );
  });
});

describe('classifySmtpError', () => {
  it('keeps the reason of a 5xx as permanent and retries 4xx and connection errors', () => {
    expect(
      classifySmtpError({ responseCode: 550, response: '550 5.1.1 no such user', code: 'EENVELOPE' }),
    ).toEqual({
      permanent: true,
      message: '550 5.1.1 no such user',
      response: '550 5.1.1 no such user',
    });
    expect(classifySmtpError({ responseCode: 451, response: '451 4.3.0 try later' }).permanent).toBe(false);
    expect(classifySmtpError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ESOCKET' }))).toEqual({
      permanent: false,
      message: 'ESOCKET: connect ECONNREFUSED',
      response: null,
    });
  });
});
