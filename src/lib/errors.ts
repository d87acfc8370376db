/**
 * The few error classes something catches. Programmer errors use the built-in classes.
 * @module
 */

/**
 * Bad config: carries the field path (`sites[1].local_path`) so the message can point at it. One
 * error may stand for several mistakes (`ConfigError.of`), so that a config is fixed in one round:
 * `errors` lists each, and the message has one line per mistake after a count.
 */
export class ConfigError extends Error {
  #errors: readonly ConfigError[] = [this];

  constructor(readonly field: string, readonly rule: string, options?: ErrorOptions) {
    super(field ? `${field}: ${rule}` : rule, options);
    this.name = "ConfigError";
  }

  /** Every mistake this error reports, in document order: itself alone unless built by `of`. */
  get errors(): readonly ConfigError[] {
    return this.#errors;
  }

  /**
   * One error for all of `errors`: the error itself when there is one, so its message stays
   * `field: rule`; else `3 errors in the config:` and one indented `field: rule` line each.
   */
  static of(errors: readonly ConfigError[]): ConfigError {
    const all = errors.flatMap((err) => err.errors);
    const [first] = all;
    if (first === undefined) throw new RangeError("ConfigError.of() needs at least one error");
    if (all.length === 1) return first;
    const lines = all.map((err) => `\n  ${err.message}`).join("");
    const combined = new ConfigError("", `${all.length} errors in the config:${lines}`);
    combined.#errors = all;
    return combined;
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

/**
 * True when another program holds the file: Windows refuses to open a file that is open for
 * writing elsewhere (a sharing or lock violation, "os error 32"/"33"). It passes when that program
 * closes the file, so it is worth trying again later, not reporting as broken.
 */
export function isBusy(err: unknown): boolean {
  if (err instanceof Deno.errors.Busy) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === "EBUSY") return true;
  return /\(os error 3[23]\)/.test(errorMessage(err));
}
