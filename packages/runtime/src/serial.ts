/** Runs tasks one after another, in call order. Each call gets its own task's outcome; a task that
 * fails does not stop the ones queued after it. */
export function serialQueue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>) => {
    const run = tail.catch(() => {}).then(task);
    tail = run;
    return run;
  };
}
