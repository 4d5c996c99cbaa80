/** Keys remembered for a while, as a negative cache: "asked recently, and it was not there". Bounded,
 * because the keys come from bad input and can be anything: when full, the expired entries go, or else
 * all of them (forgetting costs one more lookup). */
export class ExpiringMemo<K> {
  private readonly since = new Map<K, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.since.size;
  }

  /** Whether the key was added less than `ttlMs` before `now`. */
  has(key: K, now: number): boolean {
    const at = this.since.get(key);
    return at !== undefined && now - at < this.ttlMs;
  }

  add(key: K, now: number): void {
    if (this.since.size >= this.max) {
      for (const [k, at] of this.since) if (now - at >= this.ttlMs) this.since.delete(k);
      if (this.since.size >= this.max) this.since.clear();
    }
    this.since.set(key, now);
  }

  delete(key: K): void {
    this.since.delete(key);
  }
}
