/** Configuration from the environment, validated at start with zod schemas. A bad value stops the
 * service with a message that names the variable; every problem is reported at once; secret values
 * never appear in messages or logs. */
import { z } from 'zod';

export interface ConfigProblem {
  variable: string;
  problem: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

const REQUIRED = 'is required but not set';

/** A variable that is unset or blank counts as unset; others are trimmed. */
const present = (v: unknown): string | undefined =>
  typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;

const show = (v: unknown, secret?: boolean) => (secret ? '(hidden)' : JSON.stringify(v));

/** The variable's trimmed text, or the default when it is unset. */
function text(opts: { default?: string | undefined; required?: string } = {}) {
  return z.preprocess((v) => present(v) ?? opts.default, z.string({ error: opts.required ?? REQUIRED }));
}

interface Range {
  min?: number;
  max?: number;
}

function rangeText({ min, max }: Range): string {
  if (min !== undefined && max !== undefined) return ` ${min}-${max}`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return '';
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

function numeric(kind: 'an integer' | 'a number', opts: Range & { default?: number }) {
  const bad = (iss: { input?: unknown }) => `expected ${kind}${rangeText(opts)}, got ${show(iss.input)}`;
  let n = z.number({ error: bad });
  if (kind === 'an integer') n = n.int({ error: bad });
  if (opts.min !== undefined) n = n.min(opts.min, { error: bad });
  if (opts.max !== undefined) n = n.max(opts.max, { error: bad });
  return text({ default: opts.default === undefined ? undefined : String(opts.default) })
    .pipe(z.string().regex(NUMBER, { error: bad }))
    .transform(Number)
    .pipe(n);
}

function urlProblem(value: string, protocols: string[], secret?: boolean): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return `expected a URL (${protocols.join(' or ')}), got ${show(value, secret)}`;
  }
  const protocol = parsed.protocol.replace(/:$/, '');
  if (!protocols.includes(protocol)) return `must use ${protocols.join(' or ')}, got ${protocol}`;
  return 'must name a host';
}

const HOST_PORT = /^[A-Za-z0-9.\-_[\]:]+:(\d{1,5})$/;
const isHostPort = (hp: string) => Number(HOST_PORT.exec(hp)?.[1] ?? Number.NaN) <= 65535;

/** Schemas of one environment variable each, for `envSchema`. */
export const env = {
  /** A required string (or its default). */
  string(opts: { default?: string } = {}) {
    return text(opts);
  },
  optionalString() {
    return z.preprocess(present, z.string().optional());
  },
  url(protocols: string[], opts: { default?: string; secret?: boolean } = {}) {
    return text(opts).pipe(
      z.url({
        protocol: new RegExp(`^(${protocols.join('|')})$`),
        hostname: /./,
        error: (iss) => urlProblem(String(iss.input), protocols, opts.secret),
      }),
    );
  },
  /** Like url, but undefined when unset. */
  optionalUrl(protocols: string[], opts: { secret?: boolean } = {}) {
    return z.preprocess(present, env.url(protocols, opts).optional());
  },
  int(opts: Range & { default?: number } = {}) {
    return numeric('an integer', opts);
  },
  number(opts: Range & { default?: number } = {}) {
    return numeric('a number', opts);
  },
  /** true/1/yes/on or false/0/no/off, in any case. */
  bool(opts: { default?: boolean } = {}) {
    return text({ default: opts.default === undefined ? undefined : String(opts.default) }).pipe(
      booleanText(),
    );
  },
  /** Like bool, but undefined when unset. */
  optionalBool() {
    return z.preprocess(present, booleanText().optional());
  },
  oneOf<const T extends string>(values: readonly [T, ...T[]], opts: { default?: NoInfer<T> } = {}) {
    return text({ ...opts, required: `is required: one of ${values.join(', ')}` }).pipe(
      z.enum(values, { error: (iss) => `expected one of ${values.join(', ')}, got ${show(iss.input)}` }),
    );
  },
  /** Comma-separated host:port list, e.g. KAFKA_BROKERS. */
  hostPorts(opts: { default?: string } = {}) {
    const hostPort = z.string().refine(isHostPort, {
      error: (iss) => `expected host:port[,host:port...], got ${show(iss.input)}`,
    });
    return text({ ...opts, required: `${REQUIRED} (host:port[,host:port...])` })
      .transform((v) => v.split(',').map((s) => s.trim()))
      .pipe(z.array(hostPort));
  },
  /** Like hostPorts, but undefined when unset (a service for which Kafka is optional). */
  optionalHostPorts() {
    const hostPort = z.string().refine(isHostPort, {
      error: (iss) => `expected host:port[,host:port...], got ${show(iss.input)}`,
    });
    return z.preprocess(
      (v) =>
        present(v)
          ?.split(',')
          .map((s) => s.trim()),
      z.array(hostPort).optional(),
    );
  },
};

function booleanText() {
  return z.stringbool({
    truthy: ['true', '1', 'yes', 'on'],
    falsy: ['false', '0', 'no', 'off'],
    case: 'insensitive',
    error: (iss) => `expected true or false, got ${show(iss.input)}`,
  });
}

type Shape = Record<string, z.ZodType>;
type Values<S extends Shape> = z.output<z.ZodObject<S>>;
/** What a transform may do besides returning its value: report a problem under a variable's name. */
export interface EnvContext {
  addIssue(issue: { code: 'custom'; message: string; path?: PropertyKey[] }): void;
}

/** A group of variables and what they become, e.g. the database settings every service reads.
 * `map` may report more problems (cross-variable rules) with `ctx.addIssue({ code: 'custom', path:
 * ['VARIABLE'], message })`. */
export function envSchema<S extends Shape, T>(
  shape: S,
  map: (values: Values<S>, ctx: EnvContext) => T,
): z.ZodType<T> {
  return z.object(shape).transform((values, ctx) => map(values as Values<S>, ctx as EnvContext));
}

/** Parses every group against the same environment, or throws one ConfigError listing every problem
 * (the first one per variable), in the order of the groups. */
export function readEnv<G extends Record<string, z.ZodType>>(
  groups: G,
  source: Source = process.env,
): { [K in keyof G]: z.output<G[K]> } {
  const problems: ConfigProblem[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(groups)) {
    const result = schema.safeParse(source);
    if (result.success) out[name] = result.data;
    else problems.push(...problemsOf(result.error));
  }
  const seen = new Set<string>();
  const first = problems.filter((p) => !seen.has(p.variable) && seen.add(p.variable));
  if (first.length > 0) throw new ConfigError(first);
  return out as { [K in keyof G]: z.output<G[K]> };
}

function problemsOf(error: z.ZodError): ConfigProblem[] {
  return error.issues.map((issue) => ({
    variable: issue.path.length > 0 ? String(issue.path[0]) : '(environment)',
    problem: issue.message,
  }));
}
