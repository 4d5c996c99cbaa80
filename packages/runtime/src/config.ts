/** Configuration from the environment, validated at start. A bad value stops the service with a
 * message that names the variable; secret values never appear in messages or logs. */

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; problem: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

export interface ConfigReader {
  /** A required string. */
  string(name: string, opts?: { default?: string; secret?: boolean }): string;
  optionalString(name: string): string | undefined;
  url(name: string, protocols: string[], opts?: { default?: string; secret?: boolean }): string;
  int(name: string, opts?: { default?: number; min?: number; max?: number }): number;
  number(name: string, opts?: { default?: number; min?: number; max?: number }): number;
  bool(name: string, opts?: { default?: boolean }): boolean;
  oneOf<T extends string>(name: string, values: readonly T[], opts?: { default?: T }): T;
  /** Comma-separated host:port list, e.g. KAFKA_BROKERS. */
  hostPorts(name: string, opts?: { default?: string }): string[];
  /** Throws a ConfigError listing every problem found so far. */
  done(): void;
}

export function configReader(source: Source = process.env): ConfigReader {
  const problems: { variable: string; problem: string }[] = [];
  const fail = <T>(variable: string, problem: string, placeholder: T): T => {
    problems.push({ variable, problem });
    return placeholder;
  };
  const raw = (name: string, fallback: string | undefined): string | undefined => {
    const v = source[name];
    return v === undefined || v.trim() === '' ? fallback : v.trim();
  };
  const show = (v: string, secret?: boolean) => (secret ? '(hidden)' : JSON.stringify(v));

  const reader: ConfigReader = {
    string(name, opts = {}) {
      const v = raw(name, opts.default);
      return v === undefined ? fail(name, 'is required but not set', '') : v;
    },
    optionalString(name) {
      return raw(name, undefined);
    },
    url(name, protocols, opts = {}) {
      const v = raw(name, opts.default);
      if (v === undefined) return fail(name, 'is required but not set', '');
      let parsed: URL;
      try {
        parsed = new URL(v);
      } catch {
        return fail(name, `must be a URL (${protocols.join(' or ')}), got ${show(v, opts.secret)}`, '');
      }
      if (!protocols.includes(parsed.protocol.replace(/:$/, ''))) {
        return fail(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol.replace(/:$/, '')}`, '');
      }
      if (!parsed.hostname) return fail(name, 'must name a host', '');
      return v;
    },
    int(name, opts = {}) {
      const n = reader.number(name, opts);
      return Number.isInteger(n) ? n : fail(name, `must be an integer, got ${n}`, 0);
    },
    number(name, opts = {}) {
      const v = raw(name, opts.default === undefined ? undefined : String(opts.default));
      if (v === undefined) return fail(name, 'is required but not set', 0);
      const n = Number(v);
      if (!Number.isFinite(n)) return fail(name, `must be a number, got ${show(v)}`, 0);
      if (opts.min !== undefined && n < opts.min) return fail(name, `must be >= ${opts.min}, got ${n}`, 0);
      if (opts.max !== undefined && n > opts.max) return fail(name, `must be <= ${opts.max}, got ${n}`, 0);
      return n;
    },
    bool(name, opts = {}) {
      const v = raw(name, opts.default === undefined ? undefined : String(opts.default));
      if (v === undefined) return fail(name, 'is required but not set', false);
      if (/^(true|1|yes|on)$/i.test(v)) return true;
      if (/^(false|0|no|off)$/i.test(v)) return false;
      return fail(name, `must be true or false, got ${show(v)}`, false);
    },
    oneOf(name, values, opts = {}) {
      const v = raw(name, opts.default);
      if (v === undefined) return fail(name, `is required: one of ${values.join(', ')}`, values[0]!);
      return (values as readonly string[]).includes(v)
        ? (v as (typeof values)[number])
        : fail(name, `must be one of ${values.join(', ')}, got ${show(v)}`, values[0]!);
    },
    hostPorts(name, opts = {}) {
      const v = raw(name, opts.default);
      if (v === undefined) return fail(name, 'is required but not set (host:port[,host:port...])', []);
      const list = v.split(',').map((s) => s.trim());
      const bad = list.filter(
        (hp) => !/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(hp) || Number(hp.split(':').pop()) > 65535,
      );
      if (bad.length > 0 || list.length === 0) {
        return fail(name, `must be a comma-separated list of host:port, got ${show(v)}`, []);
      }
      return list;
    },
    done() {
      if (problems.length > 0) throw new ConfigError([...problems]);
    },
  };
  return reader;
}
