/**
 * `max_delete` as users write it: a count of objects (`1000`), or a share of the site's objects
 * (`"50%"`). The delete guard (src/site/delete_guard.ts) applies it.
 * @module
 */

import { ConfigError } from "../lib/errors.ts";
import { describe } from "./check.ts";
import type { DeleteLimit } from "./types.ts";

/** Half the site: see README, "Delete guard", for why. */
export const DEFAULT_MAX_DELETE: DeleteLimit = { percent: 50 };

/** Only catches typos (a few extra zeros). */
const MAX_COUNT = 1_000_000_000;

/** The limit, or undefined when the key is absent. */
export function readDeleteLimit(value: unknown, field: string): DeleteLimit | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const rule = `must be a count of objects such as 1000, or a share of the site's objects ` +
    `such as "50%" ("100%" turns the guard off)`;
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 0 && value <= MAX_COUNT) return { count: value };
    throw new ConfigError(field, `${rule}, got ${describe(value)}`);
  }
  if (typeof value === "string") {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(value);
    const number = match ? Number(match[1]) : NaN;
    if (match?.[2] === "%" && number <= 100) return { percent: number };
    if (match && match[2] === "" && Number.isInteger(number) && number <= MAX_COUNT) {
      return { count: number };
    }
  }
  throw new ConfigError(field, `${rule}, got ${describe(value)}`);
}
