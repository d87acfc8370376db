/**
 * Scenario 8's rows: the units and tools they are kept under, and how one finished run is
 * recorded and checked.
 * @module
 */

import type { Timed } from "./proc.ts";
import { countObjects } from "./s3.ts";
import { type Context, failed, progress, type Spec } from "./scenarios.ts";
import type { Row } from "./stats.ts";
import { UPLOAD_WORKERS } from "./tools.ts";

export const RATE = "objects/s";
export const PER_FILE = "CPU ms a file";
export const SECONDS = "s";
export const CPU = "CPU s";
export const PEAK = "MiB peak";
export const RSS = "MiB";
export const MARGINAL = "CPU ms a file, marginal";
export const SHARE = "x, our share of the loop";

export type Who = { readonly name: string; readonly kind: Row["kind"] };

export const WITH_STATE: Who = { name: "s3sync-service, with its state store", kind: "ours" };
export const NO_STATE: Who = { name: "s3sync-service, state_dir deleted first", kind: "ours" };
export const LIST_READ =
  "reference: list + read (ListObjectsV2 loop, then a walk reading every file)";
export const LIST_ONLY = "reference: the ListObjectsV2 loop alone";
export const READ_ONLY = "reference: the walk reading every file alone";
export const LOOP = `reference: SDK PutObject loop x${UPLOAD_WORKERS}, in-process`;

export function at(kase: string, who: Who | string, unit: string): Spec {
  const { name, kind } = typeof who === "string" ? { name: who, kind: "reference" as const } : who;
  return {
    scenario: 8,
    case: kase,
    tool: name,
    kind,
    unit,
    better: unit === RATE || unit === SHARE ? "higher" : "lower",
  };
}

/** Runs `fn`; a failure is noted on `row` (and on stderr) and gives undefined. */
export async function attempt<T>(
  ctx: Context,
  row: Spec,
  r: number,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    failed(ctx, row, r, err);
    return undefined;
  }
}

/** The rows of one finished sync: a rate and CPU per file for an initial sync, else seconds. */
export function record(
  ctx: Context,
  kase: string,
  who: Who,
  out: Timed,
  initialFiles?: number,
): void {
  const mib = (out.peakKiB ?? NaN) / 1024;
  if (initialFiles) {
    ctx.results.add(at(kase, who, RATE), initialFiles / out.seconds);
    ctx.results.add(at(kase, who, PER_FILE), (out.cpuSeconds ?? NaN) * 1000 / initialFiles);
  } else {
    ctx.results.add(at(kase, who, SECONDS), out.seconds);
    ctx.results.add(at(kase, who, CPU), out.cpuSeconds ?? NaN);
  }
  ctx.results.add(at(kase, who, PEAK), mib);
  progress(
    `${kase}: ${who.name}: ${out.seconds.toFixed(2)} s, CPU ${
      out.cpuSeconds?.toFixed(2) ?? "?"
    } s, peak ${mib.toFixed(0)} MiB`,
  );
}

/** Our `--once` summary says how many files it uploaded; a mismatch is noted on the row. */
export function checkUploads(
  ctx: Context,
  row: Spec,
  r: number,
  out: Timed,
  expected: number,
): void {
  const found = out.tail.match(/checked \d+ files, uploaded (\d+) /g)?.at(-1);
  const uploaded = found ? Number(found.match(/uploaded (\d+)/)![1]) : undefined;
  if (uploaded === undefined) {
    ctx.results.note(row, `run ${r + 1}: no --once summary in its output`);
  } else if (uploaded !== expected) {
    ctx.results.note(row, `run ${r + 1}: uploaded ${uploaded}, expected ${expected}`);
  }
}

export async function checkStored(
  ctx: Context,
  row: Spec,
  r: number,
  bucket: string,
  n: number,
): Promise<void> {
  const stored = await countObjects(ctx.client, bucket);
  if (stored !== n) ctx.results.note(row, `run ${r + 1}: ${stored} of ${n} objects stored`);
}
