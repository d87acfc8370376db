/**
 * Series whose values are read at scrape time. Each `collect()` rebuilds its series from the rows
 * it is given, so a label set that is no longer reported (a site gone after a reload) disappears.
 * @module
 */

import { Counter, Gauge, type Registry } from "prom-client";

export type Labels = Record<string, string>;
export type Row = readonly [Labels, number];

export interface SeriesSpec {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Called once per scrape; returns every label set and its current value. */
  readonly rows: () => readonly Row[];
}

/** A scrape must not fail over one bad number; counters throw on negatives and NaN. */
const sane = (value: number): number => Number.isFinite(value) && value > 0 ? value : 0;

export function defineGauge(
  registry: Registry,
  { name, help, labelNames, rows }: SeriesSpec,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of rows()) this.set(labels, Number.isFinite(value) ? value : 0);
    },
  });
}

/**
 * prom-client counters can't be set: reset, then increment by the current total. The engine
 * resets its own counts on reload, so these reset too, which `rate()` reads as a restart.
 */
export function defineCounter(
  registry: Registry,
  { name, help, labelNames, rows }: SeriesSpec,
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of rows()) this.inc(labels, sane(value));
    },
  });
}

/**
 * Memoises `read` for one scrape, so every series describes the same moment. prom-client calls
 * each metric's `collect()` synchronously within one `metrics()` call, so the value is dropped
 * at the next microtask.
 */
export function perScrape<T>(read: () => T): () => T {
  let cached: { value: T } | undefined;
  return () => {
    if (!cached) {
      cached = { value: read() };
      queueMicrotask(() => cached = undefined);
    }
    return cached.value;
  };
}
