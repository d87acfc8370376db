/**
 * What a benchmark records: one row per (scenario, case, tool, metric) with every run's value, and
 * the summary figures the report prints (median, range, ratio to the best peer of the same row).
 * @module
 */

/** "higher" for throughput (objects/s, MB/s), "lower" for times and memory. */
export type Better = "higher" | "lower";

export interface Row {
  /** Scenario number, as `--scenarios` names it. */
  readonly scenario: number;
  /** What was measured, e.g. "5,000 x 4 KiB, initial sync". */
  readonly case: string;
  readonly tool: string;
  /** "ours", "peer", "reference" (list + walk, SDK floor, md5sum): only peers count as "best peer". */
  readonly kind: "ours" | "peer" | "reference";
  readonly unit: string;
  readonly better: Better;
  readonly values: number[];
  readonly notes: string[];
}

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function summarize(values: readonly number[]): Summary | undefined {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

/** The q-quantile (0..1) by nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** The best peer's median in the same scenario, case and unit, if any peer was measured. */
export function bestPeer(
  rows: readonly Row[],
  row: Row,
): { tool: string; median: number } | undefined {
  let best: { tool: string; median: number } | undefined;
  for (const other of rows) {
    if (other.kind !== "peer" || other.scenario !== row.scenario) continue;
    if (other.case !== row.case || other.unit !== row.unit) continue;
    const s = summarize(other.values);
    if (!s) continue;
    const better = row.better === "higher"
      ? s.median > (best?.median ?? -Infinity)
      : s.median < (best?.median ?? Infinity);
    if (better) best = { tool: other.tool, median: s.median };
  }
  return best;
}

/** A collector: rows are created on first use and keep the order they were first seen in. */
export class Results {
  readonly rows: Row[] = [];

  row(spec: Omit<Row, "values" | "notes">): Row {
    let found = this.rows.find((r) =>
      r.scenario === spec.scenario && r.case === spec.case && r.tool === spec.tool &&
      r.unit === spec.unit
    );
    if (!found) {
      found = { ...spec, values: [], notes: [] };
      this.rows.push(found);
    }
    return found;
  }

  add(spec: Omit<Row, "values" | "notes">, value: number, note?: string): void {
    const row = this.row(spec);
    row.values.push(value);
    if (note && !row.notes.includes(note)) row.notes.push(note);
  }

  note(spec: Omit<Row, "values" | "notes">, note: string): void {
    const row = this.row(spec);
    if (!row.notes.includes(note)) row.notes.push(note);
  }
}

/** Runs of `fn` over the tools, each run starting one tool later, so no tool always goes first. */
export function rotations<T>(items: readonly T[], runs: number): T[][] {
  const out: T[][] = [];
  for (let r = 0; r < runs; r++) {
    const shift = items.length ? r % items.length : 0;
    out.push([...items.slice(shift), ...items.slice(0, shift)]);
  }
  return out;
}
