/**
 * Reads a config file and parses it as YAML 1.2, then resolves it. Every failure is a
 * `ConfigError`, so the caller has one thing to catch at start-up (exit 2) and on reload (keep the
 * running config).
 * @module
 */

import { LineCounter, parseDocument } from "yaml";
import { ConfigError, errorMessage } from "../lib/errors.ts";
import type { Config } from "./types.ts";
import { type Env, resolveConfig } from "./resolve.ts";

// Aliases can expand exponentially ("billion laughs"); a real config needs a handful at most.
const MAX_ALIAS_COUNT = 100;

export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: string[];
  /** The text as read, so a reload can tell "nothing changed" without comparing configs. */
  readonly text: string;
}

/** Reads `path`, parses and resolves it. Throws `ConfigError` for any failure. */
export async function loadConfig(path: string, env: Env, cpuCount: number): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new ConfigError("", `Cannot read config file ${JSON.stringify(path)}: ${reason(err)}`, {
      cause: err,
    });
  }
  return loadConfigText(text, path, env, cpuCount);
}

/**
 * Parses and resolves config text read from `sourceName` (a file path, or a ConfigMap's name),
 * which only appears in messages.
 */
export function loadConfigText(
  text: string,
  sourceName: string,
  env: Env,
  cpuCount: number,
): LoadedConfig {
  const where = JSON.stringify(sourceName);
  const lines = new LineCounter();
  // prettyErrors is off because it appends the offending source line, which may hold a secret.
  // merge is on because the Go tool's YAML library honoured "<<: *defaults", and configs use it.
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    version: "1.2",
    merge: true,
  });
  const first = doc.errors[0];
  if (first) {
    const { line, col } = lines.linePos(first.pos[0]);
    const why = first.code === "MULTIPLE_DOCS"
      ? 'it holds more than one YAML document (remove the "---" separator)'
      : firstLine(first.message);
    throw new ConfigError("", `Invalid YAML in ${where} at line ${line}, column ${col}: ${why}`, {
      cause: first,
    });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // toJS throws for alias bombs and for aliases to anchors that are not defined.
    throw new ConfigError("", `Invalid YAML in ${where}: ${firstLine(errorMessage(err))}`, {
      cause: err,
    });
  }
  return { ...resolveConfig(raw, env, cpuCount), text };
}

function reason(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.IsADirectory) return "it is a directory";
  return errorMessage(err);
}

function firstLine(message: string): string {
  return message.split("\n", 1)[0] ?? message;
}
