/**
 * Small readers that turn one YAML value into one typed value or a `ConfigError` naming the field.
 * Absent values (missing key, YAML `null`, and for strings `""`, as the Go tool treated them) come
 * back as `undefined` so the caller applies its default in one visible place.
 * @module
 */

import { ConfigError } from "../lib/errors.ts";
import { CANNED_ACLS, type CannedAcl, type Credentials, type FollowSymlinks } from "./types.ts";
import { formatDuration, parseDuration } from "./duration.ts";

const MAX_SHOWN = 60;

/** Shows a YAML value in a message: JSON-ish and truncated; for secrets only its kind, never it. */
export function describe(value: unknown, secret = false): string {
  if (secret) return value === null ? "null" : `<redacted ${kind(value)}>`;
  let text: string;
  if (typeof value === "number" || typeof value === "bigint") text = String(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = kind(value); // a cycle built by YAML aliases
    }
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 3)}...` : text;
}

function kind(value: unknown): string {
  if (Array.isArray(value)) return "list";
  if (isMapping(value)) return "mapping";
  return typeof value;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function readString(value: unknown, field: string, secret = false): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "string") return value;
  // A bare number or boolean is a string the user forgot to quote; saying so saves a round trip.
  const hint = !secret && (typeof value === "number" || typeof value === "boolean")
    ? " (put it in quotes)"
    : "";
  throw new ConfigError(field, `must be a string, got ${describe(value, secret)}${hint}`);
}

/** A canned ACL, in any case; undefined when absent (no ACL is sent). */
export function readAcl(value: unknown, field: string): CannedAcl | undefined {
  const text = readString(value, field);
  if (text === undefined) return undefined;
  const found = CANNED_ACLS.find((acl) => acl === text.toLowerCase());
  if (found) return found;
  const valid = CANNED_ACLS.map((acl) => `"${acl}"`).join(", ");
  throw new ConfigError(field, `must be a canned ACL, one of ${valid}, got ${describe(text)}`);
}

/** `follow_symlinks`: true, false or "any" (in any case); undefined when absent. */
export function readFollowSymlinks(
  value: unknown,
  field: string,
  os: string = Deno.build.os,
): FollowSymlinks | undefined {
  const follow = value === undefined || value === null || typeof value === "boolean"
    ? value ?? undefined
    : typeof value === "string" && value.toLowerCase() === "any"
    ? "any"
    : undefined;
  if (follow === undefined && value !== undefined && value !== null) {
    throw new ConfigError(field, `must be true, false or "any", got ${describe(value)}`);
  }
  // Links are resolved as POSIX paths (src/site/links.ts); Windows links and junctions are not.
  if (follow && os === "windows") {
    throw new ConfigError(field, "is not supported on Windows yet (links there are skipped)");
  }
  return follow;
}

export function readInt(
  value: unknown,
  field: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) {
    return value;
  }
  throw new ConfigError(field, `must be an integer from ${min} to ${max}, got ${describe(value)}`);
}

export function readBool(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  // YAML 1.2 reads yes/no/on/off as strings; refusing them beats guessing what the user meant.
  throw new ConfigError(field, `must be true or false, got ${describe(value)}`);
}

/** Reads a Go duration in ms; `allowZero` accepts 0 (meaning "disabled"), else it must be > 0. */
export function readDuration(
  value: unknown,
  field: string,
  maxMs: number,
  allowZero: boolean,
): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  let ms: number;
  if (value === 0) ms = 0;
  else if (typeof value === "string") {
    try {
      ms = parseDuration(value);
    } catch (err) {
      throw new ConfigError(field, (err as Error).message);
    }
  } else {
    throw new ConfigError(
      field,
      `must be a duration such as "30s" or "1m30s", got ${describe(value)}`,
    );
  }
  if ((ms === 0 && !allowZero) || ms > maxMs) {
    const low = allowZero ? "0 (disabled)" : "greater than 0";
    const rule = `must be a duration ${low} and at most ${formatDuration(maxMs)}`;
    throw new ConfigError(field, `${rule}, got ${describe(value)}`);
  }
  return ms;
}

/** Reads a list of strings, naming the bad element by index. */
export function readStringList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    throw new ConfigError(field, `must be a list of strings, got ${describe(value)}`);
  }
  return value.map((item, i) => {
    if (typeof item === "string") return item;
    throw new ConfigError(`${field}[${i}]`, `must be a string, got ${describe(item)}`);
  });
}

/**
 * Reads the `access_key`/`secret_access_key` pair under `prefix` ("" or "sites[0]."). Half a pair
 * is an error rather than a silent fallback, since mixing one site key with one global key never
 * works.
 */
export function readCredentials(
  raw: Record<string, unknown>,
  prefix: string,
): Credentials | undefined {
  const accessKeyId = readString(raw.access_key, `${prefix}access_key`, true);
  const secretAccessKey = readString(raw.secret_access_key, `${prefix}secret_access_key`, true);
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (secretAccessKey === undefined) {
    throw new ConfigError(`${prefix}secret_access_key`, "required when access_key is set");
  }
  if (accessKeyId === undefined) {
    throw new ConfigError(`${prefix}access_key`, "required when secret_access_key is set");
  }
  return { accessKeyId, secretAccessKey };
}
