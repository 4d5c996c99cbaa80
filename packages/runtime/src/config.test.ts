import { describe, expect, it } from 'vitest';
import { ConfigError, configReader } from './config.ts';

describe('configReader', () => {
  it('names every bad or missing variable, and hides secrets', () => {
    const c = configReader({ KAFKA_BROKERS: 'not a broker', REDIS_URL: 'http://x', API_TOKEN: '' });
    c.hostPorts('KAFKA_BROKERS');
    c.url('REDIS_URL', ['redis', 'rediss']);
    c.url('DATABASE_URL', ['postgres', 'postgresql']);
    c.string('API_TOKEN', { secret: true });
    try {
      c.done();
      expect.unreachable('done() should throw');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const vars = (err as ConfigError).problems.map((p) => p.variable);
      expect(vars).toEqual(['KAFKA_BROKERS', 'REDIS_URL', 'DATABASE_URL', 'API_TOKEN']);
      expect((err as Error).message).toContain('DATABASE_URL: is required');
    }
  });

  it('parses good values and applies defaults', () => {
    const c = configReader({ KAFKA_BROKERS: '127.0.0.1:19092, kafka:9092', N: '5', B: 'yes', M: 'async' });
    expect(c.hostPorts('KAFKA_BROKERS')).toEqual(['127.0.0.1:19092', 'kafka:9092']);
    expect(c.int('N', { min: 1 })).toBe(5);
    expect(c.int('MISSING', { default: 7 })).toBe(7);
    expect(c.bool('B')).toBe(true);
    expect(c.oneOf('M', ['sync', 'async'] as const)).toBe('async');
    expect(() => c.done()).not.toThrow();
  });

  it('rejects out-of-range and non-integer numbers', () => {
    const c = configReader({ A: '0', B: '1.5', C: 'x' });
    c.int('A', { min: 1 });
    c.int('B');
    c.number('C');
    expect(() => c.done()).toThrow(/A: must be >= 1[\s\S]*B: must be an integer[\s\S]*C: must be a number/);
  });
});
