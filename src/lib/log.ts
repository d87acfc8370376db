/**
 * The only module that writes to the console. One line per event: time, level, message, then
 * `key=value` fields. Registered secrets are masked in every line as a last line of defence; the code
 * is still written never to pass them here.
 * @module
 */

import { LOG_LEVELS, type LogFormat, type LogLevel } from "../config/types.ts";

export type Fields = Record<string, string | number | boolean | undefined>;

const rank = (level: LogLevel): number => LOG_LEVELS.indexOf(level);
const encoder = new TextEncoder();
const secrets = new Set<string>();
let threshold = rank("info");
let format: LogFormat = "text";
/** The terminal's status line (progress), kept under the log lines; "" when none is shown. */
let status = "";
let printTarget: "stdout" | "stderr" = "stdout";
const CLEAR_LINE = "\r\x1b[2K";

/** Text for people, JSON lines for log collectors. */
export function setLogFormat(next: LogFormat): void {
  format = next;
}

/** Sets the level; a reload may raise verbosity but never lower it, as the original did. */
export function setLogLevel(level: LogLevel, { allowLower = true } = {}): void {
  const next = rank(level);
  if (allowLower || next < threshold) threshold = next;
}

export function logLevel(): LogLevel {
  return LOG_LEVELS[threshold] ?? "info";
}

export function isLogged(level: LogLevel): boolean {
  return rank(level) >= threshold;
}

/** Masks `value` wherever it would appear in a log line. Short values would mask too much. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 8) secrets.add(value);
}

function formatValue(value: string | number | boolean): string {
  if (typeof value !== "string") return String(value);
  return /^[\w./:@-]+$/.test(value) ? value : JSON.stringify(value);
}

export function formatLine(level: LogLevel, message: string, fields: Fields = {}): string {
  const time = new Date().toISOString();
  let line: string;
  if (format === "json") {
    line = JSON.stringify({ time, level, msg: message, ...fields });
  } else {
    line = `${time} ${level.toUpperCase().padEnd(5)} ${message}`;
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) line += ` ${key}=${formatValue(value)}`;
    }
  }
  for (const secret of secrets) line = line.replaceAll(secret, "<redacted>");
  return line;
}

function write(level: LogLevel, message: string, fields?: Fields): void {
  if (!isLogged(level)) return;
  // Sync writes keep lines whole and ordered, and nothing is lost when the process exits right after.
  // A status line is cleared first and drawn again under the new line, so the two never mix.
  const line = formatLine(level, message, fields) + "\n";
  writeAll(Deno.stderr, status ? `${CLEAR_LINE}${line}${status}` : line);
}

/** writeSync may write less than asked on a terminal or pipe; the rest follows. */
function writeAll(target: { writeSync(p: Uint8Array): number }, text: string): void {
  let data = encoder.encode(text);
  while (data.length > 0) data = data.subarray(target.writeSync(data));
}

/**
 * Shows `text` as the one updating status line at the bottom of a terminal's stderr (carriage
 * return, no newline), replacing the previous one; "" clears it. Only for a terminal: callers
 * check `Deno.stderr.isTerminal()`. Log lines written meanwhile appear above it.
 */
export function setStatusLine(text: string): void {
  for (const secret of secrets) text = text.replaceAll(secret, "<redacted>");
  if (text === status) return;
  const had = status;
  status = text;
  if (text || had) writeAll(Deno.stderr, CLEAR_LINE + text);
}

/**
 * `--json` keeps stdout for its one object: what `print` writes (the dry-run plan, verify's
 * findings) goes to stderr instead, as lines of its own.
 */
export function printToStderr(): void {
  printTarget = "stderr";
}

/** Writes `text` and a newline on stdout, whatever `printToStderr` said: `--json`'s one object. */
export function printStdout(text: string): void {
  for (const secret of secrets) text = text.replaceAll(secret, "<redacted>");
  writeAll(Deno.stdout, text + "\n");
}

export const log = {
  trace: (message: string, fields?: Fields): void => write("trace", message, fields),
  debug: (message: string, fields?: Fields): void => write("debug", message, fields),
  info: (message: string, fields?: Fields): void => write("info", message, fields),
  warn: (message: string, fields?: Fields): void => write("warn", message, fields),
  error: (message: string, fields?: Fields): void => write("error", message, fields),
};

/** Plain output for humans (summaries, dry-run plans) on stdout, masked like log lines. */
export function print(text: string): void {
  for (const secret of secrets) text = text.replaceAll(secret, "<redacted>");
  // On a terminal, stdout and stderr share the screen: the status line steps aside for the text.
  if (status) writeAll(Deno.stderr, CLEAR_LINE);
  writeAll(printTarget === "stdout" ? Deno.stdout : Deno.stderr, text + "\n");
  if (status) writeAll(Deno.stderr, status);
}
