/**
 * Rates as users write them for `bandwidth_limit`: "20MiB/s", "500KB/s", "100Mbit/s", a bare
 * number of bytes per second, or 0 for no limit. The "/s" may be left out. Units follow their
 * names: KB, MB and GB are powers of 1,000, KiB, MiB and GiB of 1,024, and K, M and G alone are
 * read as KiB, MiB and GiB, as rclone's --bwlimit reads them; kbit, Mbit and Gbit are bits.
 * @module
 */

import { ConfigError } from "../lib/errors.ts";
import { describe } from "./check.ts";

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  kbit: 1000 / 8,
  mbit: 1000 ** 2 / 8,
  gbit: 1000 ** 3 / 8,
};

/** Below this a 64 KiB slice would wait longer than a request may stay silent. */
export const MIN_RATE = 4096;

/** Bytes per second, 0 for no limit, or undefined when the key is absent. */
export function readRate(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const rule = `must be a rate such as "20MiB/s", "500KB/s" or "100Mbit/s", or 0 for no limit`;
  let rate: number | undefined;
  if (typeof value === "number") rate = value;
  else if (typeof value === "string") {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*?)\s*(?:\/\s*s)?\s*$/i.exec(value);
    const unit = match ? UNITS[(match[2] ?? "").toLowerCase()] : undefined;
    if (match && unit !== undefined) rate = Number(match[1]) * unit;
  }
  if (rate === undefined || !Number.isFinite(rate) || rate < 0) {
    throw new ConfigError(field, `${rule}, got ${describe(value)}`);
  }
  if (rate > 0 && rate < MIN_RATE) {
    throw new ConfigError(field, `must be 0 (no limit) or at least 4KiB/s, got ${describe(value)}`);
  }
  return Math.round(rate);
}

/** "20 MiB/s", for logs and /info. */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond === 0) return "unlimited";
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let value = bytesPerSecond;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(2))} ${units[unit]}`;
}
