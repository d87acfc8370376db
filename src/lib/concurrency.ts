/**
 * How many uploads one endpoint gets in flight, found as TCP finds its window. The limit grows while
 * the requests of a window take about as long as the fastest window seen (by Little's law, more in
 * flight at the same latency is more throughput), or while the last step up raised the requests
 * finished per second by a tenth. It doubles each window at first (slow start, so that a long link
 * is filled within a second), and grows by a quarter once latency first stops it.
 * It comes down a little when latency climbs (the server or the link is queueing, so more in
 * flight only waits longer) and by 30% when the server pushes back (503 SlowDown, 429) or requests
 * stall.
 *
 * Latency is compared within a size class (bodies within a factor of two of each other), since a
 * large body takes longer for its size alone: each class has its own lowest median, and a window
 * is judged by the class it has most requests of. Once a link is full, more in flight makes each
 * body slower in turn, which stops the growth as queueing does.
 * @module
 */

import { Limiter } from "./limiter.ts";

export type Outcome = "ok" | "throttled" | "stalled" | "failed";

export interface Sample {
  readonly ms: number;
  readonly bytes: number;
  readonly outcome: Outcome;
}

/** Why the limit last changed: the label of the metric, and the first word of `reason`. */
export type Change = "start" | "grow" | "latency" | "throttled" | "stalled";

/** Bodies up to this size are one class: below it a request's time is its round trips. */
export const SMALL_BYTES = 64 * 1024;
/** Grow only while a window's median latency stays under this multiple of the lowest seen. */
const GROW_BELOW = 1.4;
/** Shrink once it is above this multiple. */
const SHRINK_ABOVE = 2;
/** The lowest median drifts up this much per window, so a slower path is learnt after a while. */
const BASELINE_DRIFT = 1.01;
/** A step up that raised the throughput at least this much is followed by another. */
const GAIN = 1.1;
/** A window lasts at least this long (and 16 requests), so that one slow request is not a trend. */
const WINDOW_MS = 100;

export interface ConcurrencyOptions {
  readonly initial: number;
  readonly max: number;
  readonly now?: () => number;
  readonly onChange?: (limit: number, change: Change, reason: string) => void;
}

export class AdaptiveConcurrency {
  readonly limiter: Limiter;
  readonly max: number;
  change: Change = "start";
  reason: string;
  /** How often the limit changed, by why: what the metrics count. */
  readonly changes: Record<Exclude<Change, "start">, number> = {
    grow: 0,
    latency: 0,
    throttled: 0,
    stalled: 0,
  };
  readonly #now: () => number;
  readonly #onChange: ConcurrencyOptions["onChange"];
  /** The lowest window median seen, by size class. */
  readonly #baselines = new Map<number, number>();
  #slowStart = true;
  /** Requests per second in the window before the last growth, to judge what it gained. */
  #beforeGrowth: number | undefined;
  #window = newWindow(0);

  constructor({ initial, max, now = () => performance.now(), onChange }: ConcurrencyOptions) {
    this.limiter = new Limiter(initial);
    this.max = max;
    this.#now = now;
    this.#onChange = onChange;
    this.reason = `start: ${initial} in flight, growing while latency holds, up to ${max}`;
    this.#window = newWindow(now());
  }

  get limit(): number {
    return this.limiter.limit;
  }

  /** One finished request; decides at the end of each window. */
  observe(sample: Sample): void {
    const w = this.#window;
    w.count++;
    // Growing is only worth it while work waits for a slot.
    if (this.limiter.waiting > 0) w.saturated++;
    if (sample.outcome === "throttled") w.throttled++;
    if (sample.outcome === "stalled") w.stalled++;
    if (sample.outcome === "ok") {
      const size = sizeClass(sample.bytes);
      const latencies = w.latencies.get(size);
      if (latencies) latencies.push(sample.ms);
      else w.latencies.set(size, [sample.ms]);
    }
    const now = this.#now();
    if (w.count < Math.max(16, this.limit / 2) || now - w.started < WINDOW_MS) return;
    this.#decide(w, w.count / ((now - w.started) / 1000));
    this.#window = newWindow(now);
  }

  /** `rate`: the window's requests finished per second. */
  #decide(w: Window, rate: number): void {
    const limit = this.limit;
    if (w.throttled > 0) {
      return this.#set(
        Math.floor((limit * 7) / 10),
        "throttled",
        `${w.throttled} of ${w.count} requests answered "slow down"`,
      );
    }
    if (w.stalled > 0) {
      return this.#set(
        Math.floor((limit * 7) / 10),
        "stalled",
        `${w.stalled} of ${w.count} requests stalled`,
      );
    }
    let [size, latencies]: [number, number[]] = [0, []];
    for (const entry of w.latencies) {
      if (entry[1].length > latencies.length) [size, latencies] = entry;
    }
    if (latencies.length < 8) return;
    const median = latencies.sort((a, b) => a - b)[latencies.length >> 1] ?? 0;
    const baseline = Math.min(median, (this.#baselines.get(size) ?? Infinity) * BASELINE_DRIFT);
    this.#baselines.set(size, baseline);
    const ratio = median / Math.max(baseline, 0.001);
    const latency = `median ${median.toFixed(0)} ms, ${ratio.toFixed(1)}x the lowest`;
    const before = this.#beforeGrowth;
    this.#beforeGrowth = undefined;
    if (ratio > SHRINK_ABOVE) {
      return this.#set(Math.floor((limit * 9) / 10), "latency", `${latency}: requests queue`);
    }
    if (w.saturated * 2 <= w.count) return;
    // Latency that holds means more in flight is more throughput (Little's law); latency that
    // climbs is still worth it while the last step raised the throughput itself by a tenth.
    const gained = before !== undefined && rate >= before * GAIN;
    // Climbing latency ends slow start: the link is near full, and steps get smaller.
    if (ratio >= GROW_BELOW) this.#slowStart = false;
    if (ratio >= GROW_BELOW && !gained) return;
    const why = gained
      ? `${latency}, ${Math.round(rate)} requests/s, ${
        ((rate / before - 1) * 100).toFixed(0)
      }% more`
      : latency;
    const step = this.#slowStart ? limit : Math.max(1, Math.ceil(limit / 4));
    this.#beforeGrowth = rate;
    this.#set(limit + step, "grow", `${why}: more in flight`);
  }

  #set(limit: number, change: Change, why: string): void {
    if (change !== "grow") this.#slowStart = false;
    const next = Math.max(1, Math.min(this.max, limit));
    if (next === this.limit) return;
    const reason = `${change}: ${why}; ${this.limit} -> ${next}`;
    this.limiter.limit = next;
    this.change = change;
    this.reason = reason;
    if (change !== "start") this.changes[change]++;
    this.#onChange?.(next, change, reason);
  }
}

interface Window {
  started: number;
  count: number;
  saturated: number;
  throttled: number;
  stalled: number;
  /** Latencies of the requests that succeeded, by size class. */
  latencies: Map<number, number[]>;
}

/** 0 up to SMALL_BYTES, then one class per doubling. */
const sizeClass = (bytes: number): number =>
  bytes <= SMALL_BYTES ? 0 : Math.ceil(Math.log2(bytes / SMALL_BYTES));

const newWindow = (started: number): Window => ({
  started,
  count: 0,
  saturated: 0,
  throttled: 0,
  stalled: 0,
  latencies: new Map(),
});
