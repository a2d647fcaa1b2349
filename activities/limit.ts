/**
 * At most `limit` holders at once, the rest waiting in arrival order: what one worker sends to a
 * shared backend (a Prometheus) at a time, so a burst of work (the soak of a wave of a thousand
 * clusters starts every look at once) queues in the worker instead of at the backend, where
 * queued queries time out (Prometheus runs `--query.max-concurrency` queries at once, 20 by
 * default, and queues the rest).
 */
export class ConcurrencyLimit {
  private active = 0;
  private readonly queue: { grant: () => void }[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }

  /**
   * A slot: resolves with its release (call it once, when done) as soon as one is free. Rejects
   * with the signal's reason when `signal` aborts before a slot was granted; nothing is held then.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser());
        },
      };
      const onAbort = (): void => {
        const at = this.queue.indexOf(entry);
        if (at >= 0) this.queue.splice(at, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // The slot passes straight to the next waiter: `active` stays as it is.
      if (next) next.grant();
      else this.active--;
    };
  }
}
