import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { kafkaSecurityEnv, registrySecurityEnv } from '@meterline/kafka';
import { ConfigError, readEnv } from '@meterline/runtime';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** The settings `pnpm infra:up` wrote, under whatever the environment already sets. */
export function settings(): Record<string, string> {
  const file = `${repoRoot}.infra/env`;
  const out: Record<string, string> = {};
  if (existsSync(file)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
      if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
    }
  }
  return { ...out, ...(process.env as Record<string, string>) };
}

/** TLS/SASL of the brokers and auth/CA of the registry (KAFKA_SECURITY_PROTOCOL, SCHEMA_REGISTRY_*, ADR 0023);
 * a bad combination stops the script naming the variable. */
export function securitySettings(source: Record<string, string>) {
  try {
    return readEnv({ kafka: kafkaSecurityEnv, registry: registrySecurityEnv }, source);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}
