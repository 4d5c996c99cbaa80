import { describe, expect, it } from 'vitest';
import { ConfigError, env, envSchema, readEnv } from './config.ts';

function problems(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.variable}: ${p.problem}`);
    throw err;
  }
  return [];
}

const services = envSchema(
  {
    KAFKA_BROKERS: env.hostPorts(),
    REDIS_URL: env.url(['redis', 'rediss'], { secret: true }),
    DATABASE_URL: env.url(['postgres', 'postgresql'], { secret: true }),
    API_TOKEN: env.string(),
  },
  (e) => e,
);

describe('readEnv', () => {
  it('names every bad or missing variable at once, and hides secrets', () => {
    const found = problems(() =>
      readEnv({ services }, { KAFKA_BROKERS: 'not a broker', REDIS_URL: 'nope:s3cret', API_TOKEN: ' ' }),
    );
    expect(found).toEqual([
      'KAFKA_BROKERS: expected host:port[,host:port...], got "not a broker"',
      'REDIS_URL: must use redis or rediss, got nope',
      'DATABASE_URL: is required but not set',
      'API_TOKEN: is required but not set',
    ]);
    expect(problems(() => readEnv({ services }, { REDIS_URL: 'redis//:s3cret' }))).toContain(
      'REDIS_URL: expected a URL (redis or rediss), got (hidden)',
    );
    expect(problems(() => readEnv({ services }, { REDIS_URL: 'redis:' }))).toContain(
      'REDIS_URL: must name a host',
    );
  });

  it('lists the problems of every group, in order', () => {
    const a = envSchema({ A: env.int({ min: 1 }) }, (e) => e.A);
    const b = envSchema({ B: env.oneOf(['sync', 'async']) }, (e) => e.B);
    expect(problems(() => readEnv({ a, b }, { A: '0', B: 'later' }))).toEqual([
      'A: expected an integer >= 1, got 0',
      'B: expected one of sync, async, got "later"',
    ]);
    expect(problems(() => readEnv({ b }, {}))).toEqual(['B: is required: one of sync, async']);
  });

  it('parses good values, trims them and applies defaults', () => {
    const schema = envSchema(
      {
        KAFKA_BROKERS: env.hostPorts(),
        N: env.int({ min: 1 }),
        MISSING: env.int({ default: 7 }),
        B: env.bool(),
        OFF: env.bool({ default: false }),
        MAYBE: env.optionalBool(),
        M: env.oneOf(['sync', 'async']),
        S: env.string(),
        BLANK: env.optionalString(),
        F: env.number({ min: 0, max: 1 }),
      },
      (e) => e,
    );
    const { v } = readEnv(
      { v: schema },
      {
        KAFKA_BROKERS: '127.0.0.1:19092, kafka:9092',
        N: '5',
        B: 'YES',
        M: 'async',
        S: ' x ',
        BLANK: ' ',
        F: '.5',
      },
    );
    expect(v).toEqual({
      KAFKA_BROKERS: ['127.0.0.1:19092', 'kafka:9092'],
      N: 5,
      MISSING: 7,
      B: true,
      OFF: false,
      M: 'async',
      S: 'x',
      F: 0.5,
    });
  });

  it('rejects out-of-range, non-integer and non-numeric values, quoting them', () => {
    const schema = envSchema(
      {
        PORT: env.int({ min: 0, max: 65535 }),
        A: env.int({ min: 1 }),
        B: env.int(),
        C: env.number({ max: 10 }),
        D: env.bool(),
        E: env.hostPorts(),
      },
      (e) => e,
    );
    expect(
      problems(() =>
        readEnv({ schema }, { PORT: 'abc', A: '0', B: '1.5', C: 'x', D: 'maybe', E: 'kafka:99999' }),
      ),
    ).toEqual([
      'PORT: expected an integer 0-65535, got "abc"',
      'A: expected an integer >= 1, got 0',
      'B: expected an integer, got 1.5',
      'C: expected a number <= 10, got "x"',
      'D: expected true or false, got "maybe"',
      'E: expected host:port[,host:port...], got "kafka:99999"',
    ]);
    expect(problems(() => readEnv({ schema }, { PORT: '70000' }))[0]).toBe(
      'PORT: expected an integer 0-65535, got 70000',
    );
  });

  it('reads an optional host:port list: unset is undefined, a bad one is named', () => {
    const schema = envSchema({ KAFKA_BROKERS: env.optionalHostPorts() }, (e) => e.KAFKA_BROKERS);
    expect(readEnv({ schema }, {}).schema).toBeUndefined();
    expect(readEnv({ schema }, { KAFKA_BROKERS: ' ' }).schema).toBeUndefined();
    expect(readEnv({ schema }, { KAFKA_BROKERS: 'a:1, b:2' }).schema).toEqual(['a:1', 'b:2']);
    expect(problems(() => readEnv({ schema }, { KAFKA_BROKERS: 'kafka' }))).toEqual([
      'KAFKA_BROKERS: expected host:port[,host:port...], got "kafka"',
    ]);
  });

  it('reports problems a group adds under the variable it names', () => {
    const pair = envSchema({ LOW: env.int(), HIGH: env.int() }, (e, ctx) => {
      if (e.HIGH < e.LOW) ctx.addIssue({ code: 'custom', path: ['HIGH'], message: 'must be >= LOW' });
      return e;
    });
    expect(problems(() => readEnv({ pair }, { LOW: '5', HIGH: '1' }))).toEqual(['HIGH: must be >= LOW']);
    expect(() => readEnv({ pair }, { LOW: '5', HIGH: '1' })).toThrow(
      /invalid configuration:\n {2}HIGH: must be >= LOW/,
    );
  });
});
