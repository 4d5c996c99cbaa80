/** Waiting and backing off between retries. Whether a failure is retried is decided where it happens:
 * a bad event goes to the DLQ with its `Rejection` reason (packages/metering), a dependency that is down
 * is thrown and the batch retried. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with jitter, capped. attempt starts at 0. */
export function backoffMs(attempt: number, baseMs = 200, capMs = 30_000): number {
  const exp = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}
