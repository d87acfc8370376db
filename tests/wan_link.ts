/**
 * A slow network in user space (the kernel here has no netem): one direction of a link with a
 * one-way latency and an optional bandwidth, shared by every connection through it, as a real
 * uplink or downlink is. Each chunk arrives `oneWayMs` after the link has finished sending it;
 * the link sends one chunk at a time at `bytesPerSecond`. Chunks keep moving while earlier ones
 * are in flight, so a high latency lowers nothing but the pace of round trips, and a connection
 * holds at most MAX_QUEUED bytes in flight before its reader waits (what TCP's window does).
 * @module
 */

/** Bytes one connection may have in flight in one direction before its reader waits. */
const MAX_QUEUED = 4 * 1024 * 1024;

export interface LinkShape {
  /** Added to every chunk in this direction. */
  readonly oneWayMs: number;
  /** The link's rate; undefined: as fast as the machine. */
  readonly bytesPerSecond?: number;
}

/** One direction of the link. */
export class Lane {
  #freeAt = 0;

  constructor(readonly shape: LinkShape) {}

  get idle(): boolean {
    return this.shape.oneWayMs <= 0 && !this.shape.bytesPerSecond;
  }

  /** When a chunk of `bytes` handed to the link now reaches the other end (performance.now()). */
  arrival(bytes: number): number {
    const { oneWayMs, bytesPerSecond } = this.shape;
    const start = Math.max(performance.now(), this.#freeAt);
    const sent = bytesPerSecond ? start + (bytes * 1000) / bytesPerSecond : start;
    if (bytesPerSecond) this.#freeAt = sent;
    return sent + oneWayMs;
  }
}

/** One direction of one connection through a lane: chunks reach `to` in order, each on time. */
export class Pipe {
  readonly #queue: { data: Uint8Array; at: number }[] = [];
  #queued = 0;
  #writing = false;
  #room: PromiseWithResolvers<void> | undefined;
  #failed: unknown;
  #drained: PromiseWithResolvers<void> | undefined;

  constructor(private readonly to: Deno.Conn, private readonly lane: Lane) {}

  /** Queues `data` (copied); waits while the connection has too much in flight. */
  async send(data: Uint8Array): Promise<void> {
    if (this.#failed) throw this.#failed;
    this.#queue.push({ data: data.slice(), at: this.lane.arrival(data.length) });
    this.#queued += data.length;
    if (!this.#writing) {
      this.#writing = true;
      void this.#drain();
    }
    while (this.#queued > MAX_QUEUED && !this.#failed) {
      this.#room ??= Promise.withResolvers();
      await this.#room.promise;
    }
    if (this.#failed) throw this.#failed;
  }

  /** Resolves once everything queued has been written (or the connection failed). */
  flush(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    this.#drained ??= Promise.withResolvers();
    return this.#drained.promise;
  }

  /** Writes what is queued, each chunk on time; ends, in the same turn, when the queue is empty. */
  async #drain(): Promise<void> {
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
        const wait = next.at - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        for (let at = 0; at < next.data.length;) at += await this.to.write(next.data.subarray(at));
        this.#queued -= next.data.length;
        this.#room?.resolve();
        this.#room = undefined;
      }
    } catch (err) {
      this.#failed = err;
    } finally {
      this.#writing = false;
      this.#room?.resolve();
      this.#room = undefined;
      this.#drained?.resolve();
      this.#drained = undefined;
    }
  }
}
