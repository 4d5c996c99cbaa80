import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import { type EnvContext, env, envSchema } from '@meterline/runtime';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { z } from 'zod';

/** How the clients authenticate to the brokers and the registry (ADR 0023). Secrets are read from the
 * environment or from files at start; a bad or incomplete combination stops the service naming the
 * variable. */
export interface KafkaSecurity {
  protocol: 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** Set for SSL and SASL_SSL: the CA, client certificate and key (PEM), and whether to verify the broker. */
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
}

export interface RegistrySecurity {
  auth?: { username: string; password: string };
  /** PEM of the CA that signed an https registry's certificate. */
  ca?: string;
}

type Report = EnvContext;

/** The file's text, or a problem under the variable's name (never its content). */
function readSecretFile(variable: string, path: string | undefined, ctx: Report): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    ctx.addIssue({
      code: 'custom',
      path: [variable],
      message: `cannot read ${JSON.stringify(path)} (${code})`,
    });
    return undefined;
  }
}

/** A secret given as VARIABLE or VARIABLE_FILE (not both; the file's trailing newline is dropped):
 * whether either is set, and the secret when it could be read. */
function secret<V extends string>(
  variable: V,
  e: { [K in V | `${V}_FILE`]?: string | undefined },
  ctx: Report,
): { given: boolean; value: string | undefined } {
  const value = e[variable];
  const file = e[`${variable}_FILE`];
  const given = value !== undefined || file !== undefined;
  if (value !== undefined && file !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [variable],
      message: `set either ${variable} or ${variable}_FILE, not both`,
    });
    return { given, value: undefined };
  }
  return { given, value: value ?? readSecretFile(`${variable}_FILE`, file, ctx)?.replace(/\r?\n$/, '') };
}

const PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
const MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/** KAFKA_SECURITY_PROTOCOL and the SASL and TLS settings it needs, for every Kafka client. */
export const kafkaSecurityVariables = {
  KAFKA_SECURITY_PROTOCOL: env.oneOf(PROTOCOLS, { default: 'PLAINTEXT' }),
  KAFKA_SASL_MECHANISM: env.optionalString(),
  KAFKA_SASL_USERNAME: env.optionalString(),
  KAFKA_SASL_PASSWORD: env.optionalString(),
  KAFKA_SASL_PASSWORD_FILE: env.optionalString(),
  KAFKA_SSL_CA_FILE: env.optionalString(),
  KAFKA_SSL_CERT_FILE: env.optionalString(),
  KAFKA_SSL_KEY_FILE: env.optionalString(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: env.optionalBool(),
};

type Values<S extends z.ZodRawShape> = z.output<z.ZodObject<S>>;

export function kafkaSecurityOf(e: Values<typeof kafkaSecurityVariables>, c: Report): KafkaSecurity {
  const problem = (variable: string, message: string) =>
    c.addIssue({ code: 'custom', path: [variable], message });
  const protocol = e.KAFKA_SECURITY_PROTOCOL;
  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const out: KafkaSecurity = { protocol };

  const saslVariables = [
    'KAFKA_SASL_MECHANISM',
    'KAFKA_SASL_USERNAME',
    'KAFKA_SASL_PASSWORD',
    'KAFKA_SASL_PASSWORD_FILE',
  ];
  if (!usesSasl) {
    for (const v of saslVariables)
      if (e[v as keyof typeof e] !== undefined)
        problem(v, `is set but KAFKA_SECURITY_PROTOCOL is ${protocol} (SASL_PLAINTEXT or SASL_SSL uses it)`);
  } else {
    const mechanism = e.KAFKA_SASL_MECHANISM?.toLowerCase();
    if (mechanism === undefined)
      problem('KAFKA_SASL_MECHANISM', `is required with ${protocol}: one of ${MECHANISMS.join(', ')}`);
    else if (!(MECHANISMS as readonly string[]).includes(mechanism))
      problem(
        'KAFKA_SASL_MECHANISM',
        `expected one of ${MECHANISMS.join(', ')}, got ${JSON.stringify(e.KAFKA_SASL_MECHANISM)}`,
      );
    if (e.KAFKA_SASL_USERNAME === undefined) problem('KAFKA_SASL_USERNAME', `is required with ${protocol}`);
    const password = secret('KAFKA_SASL_PASSWORD', e, c);
    if (!password.given)
      problem('KAFKA_SASL_PASSWORD', `is required with ${protocol} (or KAFKA_SASL_PASSWORD_FILE)`);
    if (mechanism && e.KAFKA_SASL_USERNAME !== undefined && password.value !== undefined)
      out.sasl = {
        mechanism: mechanism as (typeof MECHANISMS)[number],
        username: e.KAFKA_SASL_USERNAME,
        password: password.value,
      };
  }

  const tlsVariables = [
    'KAFKA_SSL_CA_FILE',
    'KAFKA_SSL_CERT_FILE',
    'KAFKA_SSL_KEY_FILE',
    'KAFKA_SSL_REJECT_UNAUTHORIZED',
  ];
  if (!usesTls) {
    for (const v of tlsVariables)
      if (e[v as keyof typeof e] !== undefined)
        problem(v, `is set but KAFKA_SECURITY_PROTOCOL is ${protocol} (SSL or SASL_SSL uses it)`);
  } else {
    if ((e.KAFKA_SSL_CERT_FILE === undefined) !== (e.KAFKA_SSL_KEY_FILE === undefined))
      problem(
        e.KAFKA_SSL_CERT_FILE === undefined ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE',
        'a client certificate needs both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE',
      );
    const ca = readSecretFile('KAFKA_SSL_CA_FILE', e.KAFKA_SSL_CA_FILE, c);
    const cert = readSecretFile('KAFKA_SSL_CERT_FILE', e.KAFKA_SSL_CERT_FILE, c);
    const key = readSecretFile('KAFKA_SSL_KEY_FILE', e.KAFKA_SSL_KEY_FILE, c);
    out.tls = {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      rejectUnauthorized: e.KAFKA_SSL_REJECT_UNAUTHORIZED ?? true,
    };
  }
  return out;
}

export const kafkaSecurityEnv = envSchema(kafkaSecurityVariables, kafkaSecurityOf);

/** SCHEMA_REGISTRY_USERNAME/PASSWORD (basic auth) and SCHEMA_REGISTRY_CA_FILE. */
export const registrySecurityVariables = {
  SCHEMA_REGISTRY_USERNAME: env.optionalString(),
  SCHEMA_REGISTRY_PASSWORD: env.optionalString(),
  SCHEMA_REGISTRY_PASSWORD_FILE: env.optionalString(),
  SCHEMA_REGISTRY_CA_FILE: env.optionalString(),
};

export function registrySecurityOf(e: Values<typeof registrySecurityVariables>, c: Report): RegistrySecurity {
  const out: RegistrySecurity = {};
  const password = secret('SCHEMA_REGISTRY_PASSWORD', e, c);
  if (e.SCHEMA_REGISTRY_USERNAME !== undefined && !password.given)
    c.addIssue({
      code: 'custom',
      path: ['SCHEMA_REGISTRY_PASSWORD'],
      message: 'is required with SCHEMA_REGISTRY_USERNAME (or SCHEMA_REGISTRY_PASSWORD_FILE)',
    });
  if (e.SCHEMA_REGISTRY_USERNAME === undefined && password.given)
    c.addIssue({
      code: 'custom',
      path: ['SCHEMA_REGISTRY_USERNAME'],
      message: 'is required with SCHEMA_REGISTRY_PASSWORD',
    });
  if (e.SCHEMA_REGISTRY_USERNAME !== undefined && password.value !== undefined)
    out.auth = { username: e.SCHEMA_REGISTRY_USERNAME, password: password.value };
  const ca = readSecretFile('SCHEMA_REGISTRY_CA_FILE', e.SCHEMA_REGISTRY_CA_FILE, c);
  if (ca !== undefined) out.ca = ca;
  return out;
}

export const registrySecurityEnv = envSchema(registrySecurityVariables, registrySecurityOf);

/** The kafkajs `ssl` and `sasl` options of the settings. */
export function kafkajsSecurity(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.tls) {
    const { rejectUnauthorized, ...pem } = security.tls;
    out.ssl = { ...pem, rejectUnauthorized } satisfies ConnectionOptions;
  }
  if (security.sasl) out.sasl = { ...security.sasl } as SASLOptions;
  return out;
}

/** The registry client's `auth` and `agent` options. */
export function registryClientOptions(security: RegistrySecurity): {
  auth?: RegistrySecurity['auth'];
  agent?: Agent;
} {
  return {
    ...(security.auth ? { auth: security.auth } : {}),
    ...(security.ca ? { agent: new Agent({ ca: security.ca, keepAlive: true }) } : {}),
  };
}
