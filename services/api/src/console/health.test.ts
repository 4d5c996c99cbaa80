import { describe, expect, it } from 'vitest';
import { age, bytes, dlqColumnsSvg, lagBarsSvg } from './health.ts';

describe('the health page drawing', () => {
  it('draws one bar per partition, its length the records behind, red far behind', () => {
    const svg = lagBarsSvg({
      service: 'ingestor',
      groupId: 'meterline-ingestor',
      topic: 'usage.events.v1',
      state: 'Stable',
      members: 1,
      lag: 20_003,
      partitions: [
        { partition: 0, committed: 10, end: 10, lag: 0 },
        { partition: 1, committed: 0, end: 3, lag: 3 },
        { partition: 2, committed: null, end: 20_000, lag: 20_000 },
      ],
    });
    const bars = [
      ...svg.matchAll(/data-partition="(\d)" data-lag="(\d+)"[^>]*width="([\d.]+)"[^>]*fill="(#\w+)"/g),
    ];
    expect(bars.map((b) => [b[1], b[2]])).toEqual([
      ['0', '0'],
      ['1', '3'],
      ['2', '20000'],
    ]);
    expect(Number(bars[0]![3])).toBe(0);
    expect(Number(bars[1]![3])).toBeGreaterThan(0);
    expect(Number(bars[2]![3])).toBeGreaterThan(Number(bars[1]![3]));
    expect(bars[2]![4]).toBe('#d13d3d');
    expect(svg).not.toContain('style=');
  });

  it('draws a column per minute that had DLQ records', () => {
    const start = Date.UTC(2026, 11, 7, 8, 0);
    const svg = dlqColumnsSvg({
      windowMs: 3_600_000,
      bucketMs: 60_000,
      reasons: [{ reason: 'undecodable', records: 5, lastAt: start }],
      buckets: [
        { start, records: 0 },
        { start: start + 60_000, records: 5 },
      ],
    });
    expect([...svg.matchAll(/class="dlq-bucket"[^>]*data-records="(\d+)"/g)].map((m) => m[1])).toEqual(['5']);
  });

  it('says sizes and ages the way people read them', () => {
    expect(bytes(512)).toBe('512 B');
    expect(bytes(3 * 1024 * 1024)).toBe('3.0 MiB');
    expect(age(45_000)).toBe('45 s');
    expect(age(50 * 60_000)).toBe('50 min');
    expect(age(5 * 3_600_000)).toBe('5 h');
    expect(age(3 * 86_400_000)).toBe('3 days');
  });
});
