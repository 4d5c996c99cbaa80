import type { CounterChange, CounterStore } from '@meterline/metering';

/** The current-period usage of the resources this evaluator sees, kept up to date from the counter
 * changes themselves, so judging a resource's downgrade flag costs no Redis read once it is known.
 * A resource seen for the first time, or again after a rebalance (`clear`), is read from Redis once. */
export class CurrentUsage {
  private readonly byResource = new Map<string, { periodKey: string; usage: Record<string, number> }>();

  constructor(private readonly counters: CounterStore) {}

  note(change: CounterChange): void {
    const known = this.byResource.get(change.resourceId);
    if (known?.periodKey === change.periodKey) {
      known.usage[change.metric] = Math.max(known.usage[change.metric] ?? 0, change.used);
    }
  }

  async get(resourceId: string, periodKey: string): Promise<Record<string, number>> {
    const known = this.byResource.get(resourceId);
    if (known?.periodKey === periodKey) return known.usage;
    const usage = await this.counters.periodUsage(resourceId, periodKey);
    this.byResource.set(resourceId, { periodKey, usage });
    return usage;
  }

  forget(resourceId: string): void {
    this.byResource.delete(resourceId);
  }

  clear(): void {
    this.byResource.clear();
  }
}
