import { describe, expect, it } from 'vitest';
import { chunkMessages, messageBytes } from './produce.ts';

const msg = (i: number, valueBytes = 100) => ({
  key: `k${i}`,
  value: Buffer.alloc(valueBytes, i % 256),
  headers: { n: String(i) },
});

describe('chunkMessages', () => {
  it('keeps every message, in order, in runs within both limits', () => {
    const messages = Array.from({ length: 2_345 }, (_, i) => msg(i, 50 + (i % 7) * 40));
    const limits = { messages: 300, bytes: 20_000 };
    const chunks = chunkMessages(messages, limits);
    expect(chunks.flat()).toEqual(messages);
    for (const c of chunks) {
      expect(c.length).toBeGreaterThan(0);
      expect(c.length).toBeLessThanOrEqual(limits.messages);
      expect(c.reduce((n, m) => n + messageBytes(m), 0)).toBeLessThanOrEqual(limits.bytes);
    }
    // Full runs: a run ends only where the next message would not fit.
    for (let i = 0; i < chunks.length - 1; i++) {
      const bytes = chunks[i]!.reduce((n, m) => n + messageBytes(m), 0);
      const next = messageBytes(chunks[i + 1]![0]!);
      expect(chunks[i]!.length === limits.messages || bytes + next > limits.bytes).toBe(true);
    }
  });

  it('sends a message larger than the byte limit on its own, and nothing for no messages', () => {
    const big = msg(1, 50_000);
    const chunks = chunkMessages([msg(0), big, msg(2)], { messages: 100, bytes: 10_000 });
    expect(chunks.map((c) => c.length)).toEqual([1, 1, 1]);
    expect(chunks[1]![0]).toBe(big);
    expect(chunkMessages([])).toEqual([]);
  });

  it('counts keys, values and headers (strings by their UTF-8 bytes)', () => {
    expect(messageBytes({ key: null, value: null })).toBe(16);
    expect(messageBytes({ key: 'é', value: Buffer.alloc(10), headers: { a: 'b', c: ['d', 'ee'] } })).toBe(
      16 + 2 + 10 + (4 + 1 + 1) + (4 + 1 + 4 + 1 + 4 + 2),
    );
  });
});
