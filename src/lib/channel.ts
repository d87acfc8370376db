/**
 * A bounded async channel: `send` waits while the buffer is full, `for await` drains until the
 * channel is closed and empty. Producers close it; consumers never do. Capacity 0 is a rendezvous:
 * `send` resolves only once a receiver has taken the value.
 * @module
 */

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
}

export class ChannelClosedError extends Error {
  constructor() {
    super("Channel is closed");
    this.name = "ChannelClosedError";
  }
}

export class Channel<T> implements AsyncIterable<T> {
  #buffer: T[] = [];
  #senders: { value: T; waiter: Waiter<void> }[] = [];
  #receivers: Waiter<IteratorResult<T>>[] = [];
  #closed = false;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new RangeError(`Channel capacity must be a non-negative integer, got ${capacity}`);
    }
  }

  /** Values buffered plus senders waiting: what a queue-length metric shows. */
  get size(): number {
    return this.#buffer.length + this.#senders.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(value: T, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (this.#closed) return Promise.reject(new ChannelClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const receiver = this.#receivers.shift();
    if (receiver) {
      receiver.resolve({ value, done: false });
      return Promise.resolve();
    }
    if (this.#buffer.length < this.capacity) {
      this.#buffer.push(value);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        value,
        waiter: {
          resolve: () => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
          },
          reject: (reason: unknown) => {
            signal?.removeEventListener("abort", onAbort);
            reject(reason);
          },
        },
      };
      const onAbort = () => {
        const index = this.#senders.indexOf(entry);
        if (index >= 0) this.#senders.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#senders.push(entry);
    });
  }

  /** The next value, or `done` once the channel is closed and drained. */
  receive(): Promise<IteratorResult<T>> {
    if (this.#buffer.length > 0) {
      const value = this.#buffer.shift() as T;
      this.#admitSender();
      return Promise.resolve({ value, done: false });
    }
    const sender = this.#senders.shift();
    if (sender) {
      sender.waiter.resolve();
      return Promise.resolve({ value: sender.value, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#receivers.push({ resolve, reject }));
  }

  /** Values already sent, and those of senders still waiting, are delivered; then receivers end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const receiver of this.#receivers.splice(0)) {
      receiver.resolve({ value: undefined, done: true });
    }
  }

  #admitSender(): void {
    const sender = this.#senders.shift();
    if (!sender) return;
    this.#buffer.push(sender.value);
    sender.waiter.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      const next = await this.receive();
      if (next.done) return;
      yield next.value;
    }
  }
}
