/**
 * What a run that ends (`--once`, `--dry-run`, `--verify`) tells its user: the progress while it
 * runs (a status line on a terminal, else a log line every 10 s), and its summary, as a line or as
 * `--json`'s one object.
 * @module
 */

import type { Generation, Summary } from "./generation.ts";
import { log, print, setStatusLine } from "./lib/log.ts";
import { type Counters, ProgressReporter } from "./progress.ts";
import type { SiteReport } from "./verify/report.ts";

export function printSummary(summary: Summary): void {
  print(
    `checked ${summary.checked} files, uploaded ${summary.uploaded} ` +
      `(${summary.bytes} bytes), copied ${summary.copied}, deleted ${summary.deleted}, ` +
      `errors ${summary.errors}, failed jobs ${summary.failed}, ` +
      `in ${summary.seconds.toFixed(1)} s`,
  );
}

/**
 * `--json`'s one object for --once and --dry-run: snake_case names, numbers as numbers. `held`:
 * the deletes the delete guard held back, by site, which is what `--confirm-delete SITE=N` takes;
 * shown only when there are some.
 */
export function summaryJson(
  summary: Summary,
  mode: string,
  exitCode: number,
  held: Record<string, number>,
): Record<string, unknown> {
  return {
    mode,
    checked: summary.checked,
    uploaded: summary.uploaded,
    uploaded_bytes: summary.bytes,
    copied: summary.copied,
    deleted: summary.deleted,
    errors: summary.errors,
    failed_jobs: summary.failed,
    seconds: Math.round(summary.seconds * 1000) / 1000,
    exit_code: exitCode,
    ...(Object.keys(held).length > 0 ? { held_deletes: held } : {}),
  };
}

/**
 * Progress of a run that ends, on stderr: a status line on a terminal, else a log line every 10 s.
 * The caller stops it before printing the summary.
 */
export function startProgress(sample: () => Counters): ProgressReporter {
  const progress = new ProgressReporter(sample, {
    terminal: Deno.stderr.isTerminal(),
    sink: {
      status: (text) => setStatusLine(fitTerminal(text)),
      line: (f) => log.info("progress", f),
    },
  });
  progress.start();
  return progress;
}

/** A status line longer than the terminal would wrap, and "\r" would then clear its last row only. */
function fitTerminal(text: string): string {
  try {
    const { columns } = Deno.consoleSize();
    return columns > 1 ? text.slice(0, columns - 1) : text;
  } catch {
    return text; // no size to be had: the line as it is
  }
}

/**
 * What a generation has done so far. "Found" is what the feeders handed to the checks: those
 * checked, and those waiting in or going through a check stage. The walk is not counted ahead,
 * since the bounded queues hold it back; so "found" grows with the run.
 */
export function generationCounters(generation: Generation): Counters {
  const summary = generation.summary();
  let checking = 0;
  for (const site of generation.sites) {
    checking += site.queueLengths().checksum + site.inFlight().checksum;
  }
  return {
    found: summary.checked + checking,
    checked: summary.checked,
    uploaded: summary.uploaded,
    bytes: summary.bytes,
    errors: summary.errors,
  };
}

/** The verify reports so far, the one in progress included. */
export function verifyCounters(reports: readonly SiteReport[]): Counters {
  const total = (pick: (report: SiteReport) => number) =>
    reports.reduce((sum, report) => sum + pick(report), 0);
  return {
    found: total((r) => r.found),
    checked: total((r) => r.checked),
    mismatches: total((r) => r.mismatches),
    bytes: total((r) => r.bytesHashed),
    errors: total((r) => r.errors),
  };
}
