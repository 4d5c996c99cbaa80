import type { Logger } from 'pino';

/** One ordered shutdown path. Steps run in the order they were added, which each service states in
 * wire.ts: not ready -> stop accepting -> drain consumers and commit -> flush producers and mail ->
 * close Redis and Postgres. A step that fails is logged and the rest still run. */
export class Shutdown {
  private readonly steps: { name: string; run: () => Promise<unknown> | unknown }[] = [];
  private running: Promise<boolean> | null = null;

  constructor(private readonly log: Logger) {}

  add(name: string, run: () => Promise<unknown> | unknown): this {
    this.steps.push({ name, run });
    return this;
  }

  /** Runs every step once; resolves true when all succeeded. Later calls share the first run. */
  run(reason: string): Promise<boolean> {
    this.running ??= (async () => {
      this.log.info({ reason }, 'shutdown: begin');
      let ok = true;
      for (const step of this.steps) {
        const started = Date.now();
        try {
          await step.run();
          this.log.info({ step: step.name, ms: Date.now() - started }, 'shutdown: step done');
        } catch (err) {
          ok = false;
          this.log.error({ step: step.name, err }, 'shutdown: step failed');
        }
      }
      this.log.info({ ok }, 'shutdown: complete');
      return ok;
    })();
    return this.running;
  }

  /** SIGTERM/SIGINT run the steps and exit 0 (1 if a step failed); a second signal or the
   * deadline forces exit 1. */
  installSignalHandlers(opts: { deadlineMs?: number } = {}): void {
    const deadline = opts.deadlineMs ?? 30_000;
    const onSignal = (signal: NodeJS.Signals) => {
      if (this.running) {
        this.log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      setTimeout(() => {
        this.log.error({ deadline }, 'shutdown deadline passed: exiting');
        process.exit(1);
      }, deadline).unref();
      void this.run(signal).then((ok) => process.exit(ok ? 0 : 1));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
}
