/**
 * A rate limit for bytes, shared by every upload under it: each caller reserves the time its bytes
 * take at the rate, in turn, and waits for the start of its slot. Callers take small slices, so
 * the rate holds within a second, not only on average; an idle bucket lends at most `burstMs`
 * worth of bytes, so a pause is not followed by a flood.
 * @module
 */

import { sleep } from "./backoff.ts";

export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: Clock = { now: () => performance.now(), sleep };

export class TokenBucket {
  #bytesPerSecond: number;
  /** When the bytes granted so far have all gone out at the rate. */
  #free = -Infinity;

  /** `bytesPerSecond` 0 means no limit. */
  constructor(bytesPerSecond: number, readonly burstMs = 100, readonly clock: Clock = realClock) {
    this.#bytesPerSecond = checkRate(bytesPerSecond);
  }

  get bytesPerSecond(): number {
    return this.#bytesPerSecond;
  }

  /** Takes effect for the next slot; slots already granted keep their time. */
  set bytesPerSecond(value: number) {
    this.#bytesPerSecond = checkRate(value);
  }

  /** Resolves when `bytes` may be sent; rejects with the signal's reason if it aborts first. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#bytesPerSecond === 0) return Promise.resolve();
    const now = this.clock.now();
    const start = Math.max(this.#free, now - this.burstMs);
    this.#free = start + (bytes * 1000) / this.#bytesPerSecond;
    const wait = start - now;
    return wait > 0 ? this.clock.sleep(wait, signal) : Promise.resolve();
  }
}

function checkRate(bytesPerSecond: number): number {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) {
    throw new RangeError(
      `A rate must be a finite number of bytes per second, got ${bytesPerSecond}`,
    );
  }
  return bytesPerSecond;
}

/** Waits for every bucket in turn: a site's own limit, then the limit all sites share. */
export function paceAll(
  buckets: readonly TokenBucket[],
): ((bytes: number, signal?: AbortSignal) => Promise<void>) | undefined {
  if (buckets.length === 0) return undefined;
  return async (bytes, signal) => {
    for (const bucket of buckets) await bucket.take(bytes, signal);
  };
}
