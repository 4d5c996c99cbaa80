import { describe, expect, it } from 'vitest';
import { serialQueue } from './serial.ts';

describe('serialQueue', () => {
  it('runs tasks one at a time in call order', async () => {
    const enqueue = serialQueue();
    const log: string[] = [];
    const slow = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([
      enqueue(slow('a', 30)),
      enqueue(slow('b', 1)),
      enqueue(slow('c', 10)),
    ]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('keeps running tasks after one failed, and reports the failure to its own caller only', async () => {
    const enqueue = serialQueue();
    const failed = enqueue(async () => {
      throw new Error('broker down');
    });
    const next = enqueue(async () => 'published');
    await expect(failed).rejects.toThrow('broker down');
    await expect(next).resolves.toBe('published');
    await expect(enqueue(async () => 'again')).resolves.toBe('again');
  });
});
