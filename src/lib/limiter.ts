/**
 * A counting limiter: at most `limit` tasks run at once, shared by every caller (all sites share one
 * checksum limiter and one upload limiter). Waiters are served first come, first served, so one busy
 * site cannot starve another. `active` and `waiting` are what metrics and /info read.
 * @module
 */

export class Limiter {
  #active = 0;
  #limit: number;
  #waiters: { resolve: () => void }[] = [];

  constructor(limit: number) {
    this.#limit = checkLimit(limit);
  }

  get limit(): number {
    return this.#limit;
  }

  /** A higher limit lets waiters in at once; a lower one takes effect as tasks finish. */
  set limit(value: number) {
    this.#limit = checkLimit(value);
    while (this.#active < this.#limit && this.#waiters.length > 0) {
      this.#active++;
      this.#waiters.shift()?.resolve();
    }
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Waits for a free slot; the returned function gives it back and must be called exactly once. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#active < this.limit) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#releaser());
        },
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next waiter, so `active` never dips and lets a newcomer in;
      // unless the limit came down meanwhile.
      const next = this.#active <= this.#limit ? this.#waiters.shift() : undefined;
      if (next) next.resolve();
      else this.#active--;
    };
  }
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`Limiter limit must be a positive integer, got ${limit}`);
  }
  return limit;
}

/**
 * Runs `task` for every value of `source`, at most `limiter.limit` at a time across all users of
 * the limiter, and resolves once the source has ended and every task has settled. A task may give
 * its slot back early with `release` (say, before it waits on the next stage). Tasks handle their
 * own errors: one that throws is a bug, and is rethrown after the others have settled.
 */
export async function drain<T>(
  source: AsyncIterable<T>,
  limiter: Limiter,
  task: (value: T, release: () => void) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  const running = new Set<Promise<void>>();
  const failures: unknown[] = [];
  try {
    for await (const value of source) {
      const release = await limiter.acquire(signal);
      const run: Promise<void> = task(value, release)
        .catch((err) => {
          failures.push(err);
        })
        .finally(() => {
          release();
          running.delete(run);
        });
      running.add(run);
    }
  } finally {
    await Promise.all(running);
  }
  if (failures.length > 0) throw failures[0];
}
