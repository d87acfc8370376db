/**
 * Progress of a long `--once`, `--dry-run` or `--verify`: on a terminal, one status line on stderr
 * redrawn at most five times a second and cleared at the end; without one, a `progress` log line
 * every 10 s. Consumes a `sample()` of the run's counters, read on each tick; produces nothing
 * else. The watching daemon shows none: `/info` and `/metrics` are its progress.
 * @module
 */

import type { Fields } from "./lib/log.ts";

/** The counters a run has so far; `sample()` reads them from the engine each tick. */
export interface Counters {
  /** Files (and remote-only keys) the walk has handed over so far: "of N found". */
  readonly found: number;
  /** Those whose check has ended. */
  readonly checked: number;
  /** `--once`: uploads done. */
  readonly uploaded?: number;
  /** `--verify`: mismatches found. */
  readonly mismatches?: number;
  /** Bytes uploaded (`--once`) or hashed (`--verify`). */
  readonly bytes: number;
  readonly errors: number;
}

/** A terminal's redraws are at least this far apart: five a second. */
export const TERMINAL_INTERVAL_MS = 200;
/** Without a terminal, a log line this often. */
export const LOG_INTERVAL_MS = 10_000;
/** The rate is the bytes of about this last span, so that it follows changes of pace. */
export const RATE_WINDOW_MS = 5_000;

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** `1536` -> `"1.5 KiB"`; bytes under 1 KiB as a whole number. */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `65_000` -> `"1m05s"`, `3_725_000` -> `"1h02m05s"`, `4_200` -> `"4s"`. */
export function formatElapsed(ms: number): string {
  const total = Math.floor(Math.max(0, ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const pad = (n: number) => String(n).padStart(2, "0");
  if (h > 0) return `${h}h${pad(m)}m${pad(s)}s`;
  if (m > 0) return `${m}m${pad(s)}s`;
  return `${s}s`;
}

/**
 * The terminal's status line, e.g. `checked 1200 of 5000 files, uploaded 30, 12.0 MiB at 2.4 MiB/s,
 * errors 0, 1m05s`; `--verify` says `mismatches N, hashed ...` instead of `uploaded N, ...`.
 */
export function formatStatus(
  counters: Counters,
  bytesPerSecond: number,
  elapsedMs: number,
): string {
  const parts = [`checked ${counters.checked} of ${counters.found} files`];
  const rate = `${formatBytes(counters.bytes)} at ${formatBytes(bytesPerSecond)}/s`;
  if (counters.mismatches !== undefined) {
    parts.push(`mismatches ${counters.mismatches}`, `hashed ${rate}`);
  } else {
    parts.push(`uploaded ${counters.uploaded ?? 0}`, rate);
  }
  parts.push(`errors ${counters.errors}`, formatElapsed(elapsedMs));
  return parts.join(", ");
}

/** The fields of the `progress` log line: numbers only, bytes and seconds unscaled. */
export function progressFields(
  counters: Counters,
  bytesPerSecond: number,
  elapsedMs: number,
): Fields {
  return {
    checked: counters.checked,
    found: counters.found,
    uploaded: counters.uploaded,
    mismatches: counters.mismatches,
    bytes: counters.bytes,
    bytes_per_s: Math.round(bytesPerSecond),
    errors: counters.errors,
    elapsed_s: Math.round(elapsedMs / 1000),
  };
}

/**
 * Bytes per second over the last `windowMs`: the oldest sample still in the window against the
 * newest. Before two samples span any time, 0.
 */
export class RateMeter {
  readonly #samples: { at: number; bytes: number }[] = [];

  constructor(readonly windowMs: number = RATE_WINDOW_MS) {}

  add(at: number, bytes: number): number {
    const samples = this.#samples;
    samples.push({ at, bytes });
    // Keep one sample at or beyond the window's start, so that the span covers the window.
    while (samples.length > 2 && at - samples[1]!.at >= this.windowMs) samples.shift();
    const first = samples[0]!;
    const span = at - first.at;
    return span > 0 ? Math.max(0, (bytes - first.bytes) * 1000 / span) : 0;
  }
}

/** Where the reporter's output goes; main wires it to the logger. */
export interface ProgressSink {
  /** Terminal: replaces the status line; "" clears it. */
  status(text: string): void;
  /** No terminal: one `progress` log line at info level. */
  line(fields: Fields): void;
}

export interface ProgressOptions {
  /** `Deno.stderr.isTerminal()`: a status line, else a log line every 10 s. */
  readonly terminal: boolean;
  readonly sink: ProgressSink;
  /** Milliseconds; tests pass a clock they move by hand. */
  readonly now?: () => number;
}

/**
 * Reads `sample()` on each `tick()` and shows it when it is due. `start()` ticks on a timer;
 * `stop()` ends the timer and clears the status line; tests call `tick()` with a clock of their
 * own.
 */
export class ProgressReporter {
  readonly #now: () => number;
  readonly #started: number;
  readonly #rate = new RateMeter();
  #lastShown: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly sample: () => Counters, readonly options: ProgressOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#started = this.#now();
    // A terminal shows the first line on the first tick; a log waits its first 10 s, so a short
    // run logs no progress at all.
    this.#lastShown = options.terminal ? -Infinity : this.#started;
    this.#rate.add(this.#started, 0);
  }

  get interval(): number {
    return this.options.terminal ? TERMINAL_INTERVAL_MS : LOG_INTERVAL_MS;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    // A terminal ticks at its redraw rate; a log every second, each tick deciding whether the
    // 10 s are up, so that the cadence follows the clock, not the timer's drift.
    this.#timer = setInterval(
      () => this.tick(),
      this.options.terminal ? TERMINAL_INTERVAL_MS : 1000,
    );
    Deno.unrefTimer(this.#timer);
  }

  /** Shows the counters if a line is due; returns whether it showed one. */
  tick(): boolean {
    const now = this.#now();
    const counters = this.sample();
    const rate = this.#rate.add(now, counters.bytes);
    if (now - this.#lastShown < this.interval) return false;
    this.#lastShown = now;
    const elapsed = now - this.#started;
    if (this.options.terminal) this.options.sink.status(formatStatus(counters, rate, elapsed));
    else this.options.sink.line(progressFields(counters, rate, elapsed));
    return true;
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.options.terminal) this.options.sink.status("");
  }
}
