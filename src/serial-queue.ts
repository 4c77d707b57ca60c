/**
 * Runs tasks one at a time, in call order. A task's failure reaches its own caller only: the
 * queue's tail never rejects, so one failed task does not fail every task queued behind it.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();

  run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    const settled = () => undefined;
    // The failure is delivered through `result`; the tail only orders the next task.
    this.tail = result.then(settled, settled);
    return result;
  }

  /** Resolves once every task queued so far has settled (their failures went to their callers). */
  idle(): Promise<void> {
    return this.tail;
  }
}
