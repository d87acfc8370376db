/**
 * Command-line flags. Besides `--name value` and `--name=value`, the Go tool's single-dash
 * spellings (`-config x`, `-http-port=8090`, `-once`) keep working, since scripts and manifests use
 * them.
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../lib/errors.ts";
import type { Flags } from "./types.ts";

/**
 * The flags with those that only shape output: `json` here rather than in `Flags`, since nothing
 * past main reads it.
 */
export interface CommandFlags extends Flags {
  /** Print the final summary of --once, --dry-run or --verify as one JSON object on stdout. */
  readonly json: boolean;
  /** --confirm-delete: the deletes a --once run may make past `max_delete` (all sites, or one). */
  readonly confirmDelete?: { readonly site?: string; readonly count: number };
}

const VALUE_FLAGS = [
  "config",
  "http-port",
  "http-host",
  "metrics-port",
  "metrics-path",
  "configmap",
  "confirm-delete",
];
const BOOLEAN_FLAGS = ["once", "dry-run", "verify", "json", "version", "help"];
// Go's strconv.ParseBool, which the Go tool's `-once=false` went through.
const TRUE = ["1", "t", "T", "true", "TRUE", "True"];
const FALSE = ["0", "f", "F", "false", "FALSE", "False"];

export const USAGE = `Usage: s3sync-service [flags]

Keeps local folders in sync with S3 bucket prefixes, as described by a YAML config file.

Flags (also accepted with a single dash, as in -config=x):
  --config PATH            config file to read (default "config.yml")
  --http-port N            port for /info, /healthz and /reload; 0 disables it (default 8090)
  --http-host ADDR         address the HTTP server listens on (default "0.0.0.0")
  --metrics-port N         port of the Prometheus metrics server; 0 disables it (default 9350)
  --metrics-path PATH      URL path of the metrics (default "/metrics")
  --configmap NS/NAME      read the config from this Kubernetes ConfigMap instead of --config
  --once                   sync every site once, then exit instead of watching
  --dry-run                log what would be uploaded or deleted, change nothing
  --verify                 compare every file with its object by content, ignoring the state
                           store; print each mismatch and change nothing. With --once: sync,
                           comparing every file by content, so that what differs is repaired
  --json                   with --once, --dry-run or --verify: print the final summary as one
                           JSON object on stdout, and everything else on stderr
  --confirm-delete [SITE=]N
                           with --once: a comparison that would delete exactly N objects (on
                           SITE, or on any site) does so even past max_delete
  --version                print the version and exit
  -h, --help               print this help and exit

Exit codes: 0 ok, 1 a runtime failure (such as failed jobs under --once, or another process
holding the state folder), 2 bad flags or config, 3 --verify found mismatches, 4 --once held
deletes back: the delete guard tripped (see --confirm-delete).
`;

/** Parses `args` (without the program name). Throws `UsageError` with a one-line message. */
export function parseFlags(args: string[]): CommandFlags {
  const { tokens } = parseArgs({
    args: normalise(args),
    options: {
      ...Object.fromEntries(VALUE_FLAGS.map((name) => [name, { type: "string" as const }])),
      ...Object.fromEntries(BOOLEAN_FLAGS.map((name) => [name, { type: "boolean" as const }])),
      help: { type: "boolean", short: "h" },
    },
    strict: false, // so the messages below are ours: one line, naming the flag as typed
    allowPositionals: true,
    tokens: true,
  });
  const values = new Map<string, string>();
  const booleans = new Map<string, boolean>();
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      throw new UsageError(`unexpected argument ${JSON.stringify(token.value)}`);
    }
    const flag = `--${token.name}`;
    if (VALUE_FLAGS.includes(token.name)) {
      if (token.value === undefined) throw new UsageError(`${flag}: missing value`);
      if (token.value === "") throw new UsageError(`${flag}: must not be empty`);
      values.set(token.name, token.value);
    } else if (BOOLEAN_FLAGS.includes(token.name)) {
      booleans.set(token.name, readBoolean(flag, token.inlineValue ? token.value : undefined));
    } else {
      const typed = (args[token.index] ?? token.rawName).split("=", 1)[0];
      throw new UsageError(`unknown flag ${JSON.stringify(typed)}`);
    }
  }
  const once = booleans.get("once") ?? false;
  const dryRun = booleans.get("dry-run") ?? false;
  const verify = booleans.get("verify") ?? false;
  // --verify alone changes nothing already; with --once it repairs, which a dry run must not.
  if (verify && dryRun) throw new UsageError("--verify and --dry-run cannot be combined");
  const json = booleans.get("json") ?? false;
  // The watching daemon never ends with a summary; its state is /info's JSON.
  if (json && !once && !dryRun && !verify) {
    throw new UsageError(
      "--json needs --once, --dry-run or --verify: only a run that ends has a summary",
    );
  }
  const confirmDelete = readConfirmDelete(values.get("confirm-delete"));
  if (confirmDelete && !once && !dryRun) {
    throw new UsageError(
      "--confirm-delete needs --once; a running daemon takes POST /confirm-delete instead",
    );
  }
  return {
    ...(confirmDelete ? { confirmDelete } : {}),
    config: values.get("config") ?? "config.yml",
    httpPort: readPort("--http-port", values.get("http-port")) ?? 8090,
    httpHost: values.get("http-host") ?? "0.0.0.0",
    metricsPort: readPort("--metrics-port", values.get("metrics-port")) ?? 9350,
    metricsPath: readMetricsPath(values.get("metrics-path")),
    configmap: readConfigmap(values.get("configmap")),
    once,
    dryRun,
    verify,
    json,
    version: booleans.get("version") ?? false,
    help: booleans.get("help") ?? false,
  };
}

/**
 * Rewrites `-name` to `--name` so parseArgs reads Go-style flags as long options; values that
 * follow a value flag and everything after `--` are left alone. The array keeps its length, so
 * token indexes still point at what the user typed.
 */
function normalise(args: readonly string[]): string[] {
  const out: string[] = [];
  let takesValue = false;
  let ended = false;
  for (const arg of args) {
    if (takesValue || ended) {
      out.push(arg);
      takesValue = false;
      continue;
    }
    if (arg === "--") ended = true;
    const long = /^-[^-]./.test(arg) ? `-${arg}` : arg;
    const name = long.startsWith("--") ? long.slice(2) : "";
    takesValue = VALUE_FLAGS.includes(name); // no "=" in name, so the value is the next argument
    out.push(long);
  }
  return out;
}

function readBoolean(flag: string, value: string | undefined): boolean {
  if (value === undefined || TRUE.includes(value)) return true;
  if (FALSE.includes(value)) return false;
  throw new UsageError(`${flag}: must be true or false, got ${JSON.stringify(value)}`);
}

function readPort(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (port <= 65535) return port;
  throw new UsageError(`${flag}: must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
}

function readMetricsPath(value: string | undefined): string {
  if (value === undefined) return "/metrics";
  if (value.startsWith("/")) return value;
  throw new UsageError(`--metrics-path: must start with "/", got ${JSON.stringify(value)}`);
}

function readConfigmap(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parts = value.split("/");
  if (parts.length === 2 && parts.every((p) => p !== "")) return value;
  throw new UsageError(`--configmap: must be "namespace/name", got ${JSON.stringify(value)}`);
}

function readConfirmDelete(value: string | undefined): CommandFlags["confirmDelete"] {
  if (value === undefined) return undefined;
  // A site's name may hold "=" too: the count is what follows the last one.
  const match = /^(?:(.+)=)?(\d{1,10})$/.exec(value);
  if (match) return { ...(match[1] ? { site: match[1] } : {}), count: Number(match[2]) };
  throw new UsageError(
    `--confirm-delete: must be a count of objects, or SITE=count, got ${JSON.stringify(value)}`,
  );
}
