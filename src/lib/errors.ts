/**
 * The few error classes something catches. Programmer errors use the built-in classes.
 * @module
 */

/** Bad config: carries the field path (`sites[1].local_path`) so the message can point at it. */
export class ConfigError extends Error {
  constructor(readonly field: string, readonly rule: string, options?: ErrorOptions) {
    super(field ? `${field}: ${rule}` : rule, options);
    this.name = "ConfigError";
  }
}

/** Bad command line: main prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The message of any thrown value, for logs; never the value itself, which may hold a secret. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * True when a path (or a folder on the way to it) does not exist: Deno's error classes, and the
 * `code` of node:fs errors, also when they crossed a worker thread as plain data.
 */
export function isNotFound(err: unknown): boolean {
  if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}
