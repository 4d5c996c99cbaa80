/** Errors say whether a retry can help (STYLE.md): retryable means a dependency was down or busy;
 * not retryable means the input itself is bad and belongs in the DLQ. */
export class PermanentError extends Error {
  readonly retryable = false;
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentError';
  }
}

export function isRetryable(err: unknown): boolean {
  return !(err instanceof PermanentError);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with jitter, capped. attempt starts at 0. */
export function backoffMs(attempt: number, baseMs = 200, capMs = 30_000): number {
  const exp = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}
