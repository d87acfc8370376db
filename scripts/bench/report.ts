/**
 * The report: a markdown table (median, range, ratio to the best peer, and to the reference where
 * one applies) and the JSON written to bench-results/.
 * @module
 */

import { bestPeer, type Results, type Row, summarize } from "./stats.ts";

function fmt(value: number): string {
  if (!Number.isFinite(value)) return "-";
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(abs >= 1 ? 2 : 3);
}

/**
 * The reference a row is read against: the list+walk in its case (in scenario 8, list+read for times
 * and the PutObject loop for rates), or the SDK floor (scenario 7).
 */
function reference(rows: readonly Row[], row: Row): { label: string; median: number } | undefined {
  if (row.kind === "reference") return undefined;
  for (const other of rows) {
    if (other.kind !== "reference" || other.case !== row.case || other.unit !== row.unit) continue;
    if (other.scenario !== row.scenario && other.scenario !== 7) continue;
    if (other.tool.startsWith("md5sum")) continue;
    const s = summarize(other.values);
    if (!s) continue;
    return {
      label: other.scenario === 7
        ? "floor"
        : other.scenario === 8
        ? (other.tool.includes("PutObject loop") ? "loop" : "list+read")
        : "list+walk",
      median: s.median,
    };
  }
  return undefined;
}

export interface ReportRow extends Row {
  readonly median?: number;
  readonly min?: number;
  readonly max?: number;
  readonly bestPeer?: { tool: string; median: number };
  readonly ratioToBestPeer?: number;
  readonly reference?: { label: string; median: number };
  /** For rates: our share of the floor (%); for times: how many times the reference. */
  readonly ratioToReference?: number;
}

export function reportRows(results: Results): ReportRow[] {
  // By scenario, then case in the order first measured, CPU rows after the case's main figures.
  const caseOrder = new Map<string, number>();
  for (const row of results.rows) {
    if (!caseOrder.has(row.case)) caseOrder.set(row.case, caseOrder.size);
  }
  const ordered = [...results.rows].sort((a, b) =>
    a.scenario - b.scenario || caseOrder.get(a.case)! - caseOrder.get(b.case)! ||
    Number(a.unit === "CPU s") - Number(b.unit === "CPU s")
  );
  return ordered.map((row) => {
    const s = summarize(row.values);
    const best = bestPeer(results.rows, row);
    const ref = reference(results.rows, row);
    return {
      ...row,
      median: s?.median,
      min: s?.min,
      max: s?.max,
      bestPeer: best,
      ratioToBestPeer: s && best ? s.median / best.median : undefined,
      reference: ref,
      ratioToReference: s && ref ? s.median / ref.median : undefined,
    };
  });
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

export function markdown(rows: readonly ReportRow[]): string {
  const out: string[] = [];
  let scenario = -1;
  for (const row of rows) {
    if (row.scenario !== scenario) {
      scenario = row.scenario;
      out.push(
        "",
        `### Scenario ${scenario}`,
        "",
        "| case | tool | median | range (min–max) | unit | runs | ÷ best peer | vs reference | notes |",
        "| ---- | ---- | -----: | --------------- | ---- | ---: | ----------- | ------------ | ----- |",
      );
    }
    const range = row.min === undefined ? "-" : `${fmt(row.min)}–${fmt(row.max!)}`;
    const vsPeer = row.ratioToBestPeer === undefined
      ? "-"
      : `${row.ratioToBestPeer.toFixed(2)}x (${row.bestPeer!.tool})`;
    let vsRef = "-";
    if (row.ratioToReference !== undefined) {
      vsRef = row.better === "higher"
        ? `${(row.ratioToReference * 100).toFixed(0)}% of ${row.reference!.label}`
        : `${row.ratioToReference.toFixed(2)}x ${row.reference!.label}`;
    }
    out.push(
      `| ${cell(row.case)} | ${cell(row.tool)} | ${
        row.median === undefined ? "n/a" : fmt(row.median)
      } | ${range} | ${row.unit} | ${row.values.length} | ${vsPeer} | ${vsRef} | ${
        cell(row.notes.join("; "))
      } |`,
    );
  }
  out.push(
    "",
    "÷ best peer: the tool's median divided by the best peer's median in the same row group.",
    "For objects/s and MB/s above 1 is better; for seconds and MiB below 1 is better.",
  );
  return out.join("\n");
}
