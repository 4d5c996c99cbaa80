import type { Redis } from 'ioredis';

/** What INFO memory says about the server's memory (the whole server, not only Meterline's keys). */
export interface RedisMemory {
  /** used_memory: what Redis allocated for its data and buffers */
  usedBytes: number;
  /** used_memory_rss: what the operating system gave the process */
  rssBytes: number;
  /** used_memory_peak */
  peakBytes: number;
  /** maxmemory; null when unlimited (0) */
  maxBytes: number | null;
  /** maxmemory-policy; Meterline needs noeviction (counters are a cache of the ledger, not evictable) */
  policy: string | null;
}

export function parseMemoryInfo(info: string): RedisMemory {
  const fields = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  const bytes = (name: string) => {
    const n = Number(fields.get(name));
    return Number.isFinite(n) ? n : 0;
  };
  const max = bytes('maxmemory');
  return {
    usedBytes: bytes('used_memory'),
    rssBytes: bytes('used_memory_rss'),
    peakBytes: bytes('used_memory_peak'),
    maxBytes: max > 0 ? max : null,
    policy: fields.get('maxmemory_policy') ?? null,
  };
}

export async function redisMemory(redis: Redis): Promise<RedisMemory> {
  return parseMemoryInfo(await redis.info('memory'));
}
