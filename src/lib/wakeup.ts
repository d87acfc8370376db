/**
 * A timed wait that another part of the code can cut short: the feeder sleeps until its next
 * deadline, and a new, earlier deadline wakes it.
 * @module
 */

export class Wakeup {
  #wake: (() => void) | undefined;
  #pending = false;

  /** Ends the current wait, or the next one at once if nobody is waiting now. */
  wake(): void {
    if (this.#wake) this.#wake();
    else this.#pending = true;
  }

  /** Resolves after `ms`, on `wake()`, or when `signal` aborts (without throwing). */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#pending || signal?.aborted) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, 2 ** 31 - 1)));
      signal?.addEventListener("abort", done, { once: true });
      this.#wake = done;
    });
  }
}
