import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
