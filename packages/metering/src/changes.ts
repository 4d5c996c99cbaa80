/** What the ingestor tells the evaluator (topic usage.counters.v1, JSON, keyed by resource): a
 * counter moved, with its new total. One message per resource, metric and period per batch,
 * however many events moved it, so the evaluator never re-reads events. */
export interface CounterChange {
  resourceId: string;
  plan: string;
  metric: string;
  periodKey: string;
  used: number;
  /** when the ingestor updated the counter */
  at: number;
  /** the oldest event timestamp in this change, for end-to-end latency */
  firstEventAt: number;
}
