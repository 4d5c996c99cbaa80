import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, readEnv } from '@meterline/runtime';
import { describe, expect, it } from 'vitest';
import { kafkajsSecurity, kafkaSecurityEnv, registrySecurityEnv } from './security.ts';
import { kafkaEnv } from './topics.ts';

function problems(source: Record<string, string>): string[] {
  try {
    readEnv({ kafka: kafkaSecurityEnv, registry: registrySecurityEnv }, source);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.variable}: ${p.problem}`);
    throw err;
  }
  return [];
}

const dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const sasl = {
  KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
  KAFKA_SASL_MECHANISM: 'PLAIN',
  KAFKA_SASL_USERNAME: 'meterline',
  KAFKA_SASL_PASSWORD: 's3cret',
};

describe('kafkaSecurityEnv', () => {
  it('is plaintext when nothing is set', () => {
    expect(readEnv({ kafka: kafkaSecurityEnv }, {}).kafka).toEqual({ protocol: 'PLAINTEXT' });
    expect(kafkajsSecurity({ protocol: 'PLAINTEXT' })).toEqual({});
  });

  it('builds SASL over plaintext and over TLS, with the password from a file', () => {
    expect(kafkajsSecurity(readEnv({ k: kafkaSecurityEnv }, sasl).k)).toEqual({
      sasl: { mechanism: 'plain', username: 'meterline', password: 's3cret' },
    });
    const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\nca\n');
    const { KAFKA_SASL_PASSWORD: _, ...withoutPassword } = sasl;
    const got = readEnv(
      { k: kafkaSecurityEnv },
      {
        ...withoutPassword,
        KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
        KAFKA_SASL_MECHANISM: 'scram-sha-512',
        KAFKA_SASL_PASSWORD_FILE: file('password', 'from-file\n'),
        KAFKA_SSL_CA_FILE: ca,
        KAFKA_SSL_REJECT_UNAUTHORIZED: 'false',
      },
    ).k;
    expect(kafkajsSecurity(got)).toEqual({
      ssl: { ca: '-----BEGIN CERTIFICATE-----\nca\n', rejectUnauthorized: false },
      sasl: { mechanism: 'scram-sha-512', username: 'meterline', password: 'from-file' },
    });
    expect(kafkajsSecurity(readEnv({ k: kafkaSecurityEnv }, { KAFKA_SECURITY_PROTOCOL: 'SSL' }).k)).toEqual({
      ssl: { rejectUnauthorized: true },
    });
  });

  it('names each variable of an incomplete SASL setting, and never shows the password', () => {
    expect(problems({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' })).toEqual([
      'KAFKA_SASL_MECHANISM: is required with SASL_SSL: one of plain, scram-sha-256, scram-sha-512',
      'KAFKA_SASL_USERNAME: is required with SASL_SSL',
      'KAFKA_SASL_PASSWORD: is required with SASL_SSL (or KAFKA_SASL_PASSWORD_FILE)',
    ]);
    expect(problems({ ...sasl, KAFKA_SASL_MECHANISM: 'OAUTHBEARER' })).toEqual([
      'KAFKA_SASL_MECHANISM: expected one of plain, scram-sha-256, scram-sha-512, got "OAUTHBEARER"',
    ]);
    const both = problems({ ...sasl, KAFKA_SASL_PASSWORD_FILE: '/nope' });
    expect(both).toEqual([
      'KAFKA_SASL_PASSWORD: set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both',
    ]);
    const { KAFKA_SASL_PASSWORD: _, ...withoutPassword } = sasl;
    expect(problems({ ...withoutPassword, KAFKA_SASL_PASSWORD_FILE: join(dir, 'missing') })).toEqual([
      `KAFKA_SASL_PASSWORD_FILE: cannot read ${JSON.stringify(join(dir, 'missing'))} (ENOENT)`,
    ]);
    expect(problems({ KAFKA_SECURITY_PROTOCOL: 'SASL', KAFKA_SASL_PASSWORD: 's3cret' }).join()).not.toContain(
      's3cret',
    );
    expect(problems({ KAFKA_SECURITY_PROTOCOL: 'tls' })).toEqual([
      'KAFKA_SECURITY_PROTOCOL: expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL, got "tls"',
    ]);
  });

  it('refuses SASL or TLS settings the protocol would ignore, and half a client certificate', () => {
    const { KAFKA_SECURITY_PROTOCOL: _, ...credentials } = sasl;
    expect(problems(credentials)).toEqual([
      'KAFKA_SASL_MECHANISM: is set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT (SASL_PLAINTEXT or SASL_SSL uses it)',
      'KAFKA_SASL_USERNAME: is set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT (SASL_PLAINTEXT or SASL_SSL uses it)',
      'KAFKA_SASL_PASSWORD: is set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT (SASL_PLAINTEXT or SASL_SSL uses it)',
    ]);
    expect(problems({ ...sasl, KAFKA_SSL_CA_FILE: '/ca.pem' })).toEqual([
      'KAFKA_SSL_CA_FILE: is set but KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT (SSL or SASL_SSL uses it)',
    ]);
    expect(
      problems({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERT_FILE: file('cert.pem', 'cert') }),
    ).toEqual([
      'KAFKA_SSL_KEY_FILE: a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE',
    ]);
  });
});

describe('registrySecurityEnv', () => {
  it('takes basic auth and a CA file, and refuses half of the credentials', () => {
    const ca = file('registry-ca.pem', 'registry ca');
    expect(
      readEnv(
        { r: registrySecurityEnv },
        { SCHEMA_REGISTRY_USERNAME: 'u', SCHEMA_REGISTRY_PASSWORD: 'p', SCHEMA_REGISTRY_CA_FILE: ca },
      ).r,
    ).toEqual({ auth: { username: 'u', password: 'p' }, ca: 'registry ca' });
    expect(problems({ SCHEMA_REGISTRY_USERNAME: 'u' })).toEqual([
      'SCHEMA_REGISTRY_PASSWORD: is required with SCHEMA_REGISTRY_USERNAME (or SCHEMA_REGISTRY_PASSWORD_FILE)',
    ]);
    expect(problems({ SCHEMA_REGISTRY_PASSWORD: 'p' })).toEqual([
      'SCHEMA_REGISTRY_USERNAME: is required with SCHEMA_REGISTRY_PASSWORD',
    ]);
  });
});

describe('kafkaEnv', () => {
  it("carries the security settings into every service's Kafka settings", () => {
    const base = { KAFKA_BROKERS: '127.0.0.1:19094', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081' };
    const got = readEnv({ k: kafkaEnv('ingestor') }, { ...base, ...sasl }).k;
    expect(got.kafkaSecurity.sasl).toEqual({ mechanism: 'plain', username: 'meterline', password: 's3cret' });
    expect(got.registrySecurity).toEqual({});
    expect(() =>
      readEnv({ k: kafkaEnv('ingestor') }, { ...base, KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }),
    ).toThrow(/KAFKA_SASL_MECHANISM: is required with SASL_SSL/);
  });
});
