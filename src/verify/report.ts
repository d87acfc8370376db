/**
 * What `--verify` finds and how it says it: one line per finding on stdout, `<kind> site=<name>
 * path=<relative path>` and the details, then one summary line per site; and the exit code.
 * Values are quoted (as JSON strings) only when they hold spaces or odd characters, so that a
 * line splits on spaces and a path with spaces stays one value.
 * @module
 */

/** Every kind of finding, in the order the summary counts them. */
export const KINDS = [
  "missing",
  "extra",
  "size",
  "content",
  "storage-class",
  "cannot-verify",
  "changing",
] as const;
export type Kind = typeof KINDS[number];

/**
 * The kinds that prove the bucket does not hold the folder. `cannot-verify` (no proof either way)
 * and `changing` (a file being written; the daemon uploads it once it is quiet) are printed and
 * counted, but are not mismatches.
 */
export const MISMATCH_KINDS: readonly Kind[] = [
  "missing",
  "extra",
  "size",
  "content",
  "storage-class",
];

/** Exit code of a `--verify` that ran to the end and found mismatches (1 is "could not run"). */
export const MISMATCH_EXIT_CODE = 3;

export interface Finding {
  readonly kind: Kind;
  readonly site: string;
  /** Relative to the site's local_path, with "/" separators. */
  readonly path: string;
  readonly details?: Readonly<Record<string, string | number>>;
}

/** One site's tally; `verify.ts` fills it in, main prints it. */
export class SiteReport {
  readonly counts: Record<Kind, number> = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<
    Kind,
    number
  >;
  /** Local files that the site syncs (included) and that were looked at. */
  files = 0;
  /** Files whose object is proven to hold their bytes, in the site's storage class. */
  equal = 0;
  /** Objects without a file in a site without retire_deleted: kept on purpose, not reported. */
  kept = 0;
  /** Progress: included files the walk has handed over so far (a few ahead of the checks). */
  found = 0;
  /** Progress: those whose check has ended, whatever it found. */
  checked = 0;
  /** What stopped part of the check: an unreadable file or folder, a failed listing or HEAD. */
  errors = 0;
  bytesHashed = 0;
  seconds = 0;

  constructor(readonly site: string) {}

  get mismatches(): number {
    return MISMATCH_KINDS.reduce((sum, kind) => sum + this.counts[kind], 0);
  }
}

export function formatFinding({ kind, site, path, details = {} }: Finding): string {
  return formatFields(kind, { site, path, ...details });
}

export function formatSummary(report: SiteReport): string {
  return formatFields("summary", {
    site: report.site,
    files: report.files,
    equal: report.equal,
    ...report.counts,
    kept: report.kept,
    errors: report.errors,
    hashed_bytes: report.bytesHashed,
    seconds: report.seconds.toFixed(1),
  });
}

/** A report's counts for `--json`: snake_case names, numbers as numbers. */
export function reportTotals(report: SiteReport): Record<string, number> {
  return {
    files: report.files,
    equal: report.equal,
    ...Object.fromEntries(KINDS.map((kind) => [kind.replaceAll("-", "_"), report.counts[kind]])),
    mismatches: report.mismatches,
    kept: report.kept,
    errors: report.errors,
    hashed_bytes: report.bytesHashed,
    seconds: Math.round(report.seconds * 1000) / 1000,
  };
}

/**
 * `--verify --json`'s one object: the totals over every site, then `sites`, each site's own. The
 * findings are not in it (a broken tree may have millions); they are printed on stderr.
 */
export function verifyJson(
  reports: readonly SiteReport[],
  exitCode: number,
  interrupted = false,
): Record<string, unknown> {
  const sites = reports.map((report) => ({ site: report.site, totals: reportTotals(report) }));
  // Every key present, at 0, when there is no site; sites run one after the other, so their
  // times add up too.
  const totals = reportTotals(new SiteReport(""));
  for (const site of sites) {
    for (const [key, value] of Object.entries(site.totals)) {
      totals[key] = (totals[key] ?? 0) + value;
    }
  }
  totals.seconds = Math.round((totals.seconds ?? 0) * 1000) / 1000;
  return {
    mode: "verify",
    ...totals,
    exit_code: exitCode,
    interrupted,
    sites: sites.map(({ site, totals }) => ({ site, ...totals })),
  };
}

/** 1 when anything could not be checked, else 3 when something differs, else 0 (as diff(1)). */
export function verifyExitCode(reports: readonly SiteReport[]): number {
  if (reports.some((report) => report.errors > 0)) return 1;
  if (reports.some((report) => report.mismatches > 0)) return MISMATCH_EXIT_CODE;
  return 0;
}

function formatFields(head: string, fields: Record<string, string | number>): string {
  let line = head;
  for (const [key, value] of Object.entries(fields)) line += ` ${key}=${formatValue(value)}`;
  return line;
}

function formatValue(value: string | number): string {
  if (typeof value === "number") return String(value);
  return /^[\w./:@+-]+$/.test(value) ? value : JSON.stringify(value);
}
