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
