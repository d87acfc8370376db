/**
 * A cap on bytes held at once, shared by every holder: what upload bodies and part buffers may
 * take from memory together, whatever the number of uploads in flight. Served first come, first
 * served, so that a large request is not starved by small ones; one larger than the whole budget is
 * let in alone.
 * @module
 */

export class ByteBudget {
  #used = 0;
  readonly #waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`A byte budget must be a positive integer, got ${capacity}`);
    }
  }

  get used(): number {
    return this.#used;
  }

  /** Waits until `bytes` fit; the returned function gives them back (once, however often called). */
  async take(bytes: number, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.#waiters.length > 0 || !this.#fits(bytes)) {
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          bytes,
          resolve: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
        };
        const onAbort = () => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          reject(signal?.reason);
          this.#wake();
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#waiters.push(waiter);
      });
    } else {
      this.#used += bytes;
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#used -= bytes;
      this.#wake();
    };
  }

  #fits(bytes: number): boolean {
    return this.#used === 0 || this.#used + bytes <= this.capacity;
  }

  #wake(): void {
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.bytes)) {
      const waiter = this.#waiters.shift()!;
      this.#used += waiter.bytes;
      waiter.resolve();
    }
  }
}
