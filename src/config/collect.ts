/**
 * Gathers the `ConfigError`s of one resolution, so that a config with three mistakes reports all
 * three at once. Each key is read on its own: a bad key records its error and leaves its default,
 * and reading goes on with the next key. The readers in check.ts keep throwing; this is the one
 * place that catches them.
 * @module
 */

import { ConfigError } from "../lib/errors.ts";

export class Mistakes {
  readonly #errors: ConfigError[] = [];

  /** How many were recorded so far; a caller compares it to tell whether its part was clean. */
  get count(): number {
    return this.#errors.length;
  }

  add(err: ConfigError): void {
    this.#errors.push(err);
  }

  /** What `read` returns, or undefined when it threw a `ConfigError`, which is recorded. */
  read<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.add(err);
      return undefined;
    }
  }

  /**
   * Puts what was recorded so far in the order its fields appear in `document` (the parsed YAML
   * mapping, whose keys keep the file's order): top-level keys, then within `sites[i]` the
   * site's keys. Fields the document does not hold (a missing required key, an environment
   * variable) come after those it does, in the order they were found.
   */
  sortBy(document: Record<string, unknown>): void {
    const top = Object.keys(document);
    const sites = Array.isArray(document.sites) ? document.sites : [];
    const rank = (field: string): number[] => {
      const match = /^([^.[]*)(?:\[(\d+)\](?:\.([^.[]*))?)?/.exec(field);
      const [key = "", index, sub = ""] = match?.slice(1) ?? [];
      const at = top.indexOf(key);
      const keyRank = at < 0 ? top.length : at;
      if (key !== "sites" || index === undefined) return [keyRank, -1, -1];
      const site: unknown = sites[Number(index)];
      const siteKeys = typeof site === "object" && site !== null ? Object.keys(site) : [];
      const subAt = sub === "" ? -1 : siteKeys.indexOf(sub);
      return [keyRank, Number(index), sub !== "" && subAt < 0 ? siteKeys.length : subAt];
    };
    const ranked = this.#errors.map((err, found) => ({ err, found, rank: rank(err.field) }));
    ranked.sort((a, b) => compareRanks(a.rank, b.rank) || a.found - b.found);
    this.#errors.splice(0, this.#errors.length, ...ranked.map((r) => r.err));
  }

  /** Throws one `ConfigError` for all that were recorded, if any (see `ConfigError.of`). */
  throwIfAny(): void {
    if (this.#errors.length > 0) throw ConfigError.of(this.#errors);
  }
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
