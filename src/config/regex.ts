/**
 * Compiles the patterns of `exclusions`/`inclusions`, written for the Go tool, with re2js: a
 * JavaScript port of RE2, the engine behind Go's `regexp`. It accepts exactly Go's syntax, refuses
 * what Go refuses (backreferences, lookaround) with Go's own messages, and matches in time linear
 * in the path's length, so no pattern can stall the daemon whatever it nests. V8's `RegExp` is
 * 3 to 8 times faster on typical patterns, yet re2js stays under half a microsecond a path for a
 * set of five (scripts/bench/regex.ts); exactness and accepting every Go pattern win.
 * @module
 */

import { RE2JS, RE2JSException } from "re2js";

/** What the walk and the watcher need of a pattern. Native `RegExp`s fit too, for tests. */
export interface PathPattern {
  /** True when the pattern matches anywhere in the path, as Go's `MatchString`. */
  test(path: string): boolean;
}

/** One compiled Go (RE2) pattern. */
export class GoRegExp implements PathPattern {
  /** The pattern as written in the config. */
  readonly source: string;
  // Private, so the config's deep freeze leaves it alone: re2js fills caches as it matches.
  readonly #compiled: RE2JS;

  constructor(source: string, compiled: RE2JS) {
    this.source = source;
    this.#compiled = compiled;
  }

  test(path: string): boolean {
    return this.#compiled.test(path);
  }

  toString(): string {
    return this.source;
  }
}

/**
 * Compiles one Go regular expression with Go's default flags (as `regexp.Compile`). Throws a
 * `SyntaxError` whose message is Go's cause alone (the caller quotes the pattern and names the
 * field), e.g. "invalid escape sequence: `\1`".
 */
export function compileGoRegExp(pattern: string): GoRegExp {
  try {
    return new GoRegExp(pattern, RE2JS.compile(pattern));
  } catch (err) {
    if (!(err instanceof RE2JSException)) throw err;
    throw new SyntaxError(err.message.replace(/^error parsing regexp: /, ""), { cause: err });
  }
}
