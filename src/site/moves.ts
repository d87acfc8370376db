/**
 * Renames the watcher saw (old path -> new path), kept while the new path may still be copied from
 * the old object: the new path asks for its source, and the old path's delete waits meanwhile.
 * @module
 */

import { isUnder } from "./keys.ts";

export class Moves {
  readonly #moves = new Map<string, { to: string; until: number }>();

  /** `lifetimeMs`: how long a folder's move is kept (a file's ends as soon as it is done). */
  constructor(private readonly lifetimeMs: number) {}

  /** Returns the new path as it is now (see `current`). */
  note(from: string, to: string): string {
    const now = this.current(to);
    this.#moves.set(from, { to: now, until: Date.now() + this.lifetimeMs });
    return now;
  }

  /**
   * `rel` with a folder renamed just before it taken into account. The watcher names events it
   * queued before it saw a folder's rename with the folder's old path: a file moved into a
   * folder right after that folder was renamed is reported under the folder's old name.
   */
  current(rel: string): string {
    for (const [from, { to }] of this.#live()) {
      if (from !== rel && isUnder(rel, from)) return to + rel.slice(from.length);
    }
    return rel;
  }

  /** Old paths `rel` may have come from: its own rename first, then its nearest folder's. */
  sourcesFor(rel: string): string[] {
    const found: { from: string; depth: number }[] = [];
    for (const [from, { to }] of this.#live()) {
      if (rel === to) found.push({ from, depth: Infinity });
      else if (isUnder(rel, to)) {
        found.push({ from: from + rel.slice(to.length), depth: to.length });
      }
    }
    return found.sort((a, b) => b.depth - a.depth).map((f) => f.from);
  }

  /** True while `rel`, or a folder above it, may still be the source of a copy. */
  isSource(rel: string): boolean {
    for (const [from] of this.#live()) if (rel === from || isUnder(rel, from)) return true;
    return false;
  }

  /** The new path `to` is done: the file's own move is no longer needed. */
  done(to: string): void {
    for (const [from, move] of this.#moves) if (move.to === to) this.#moves.delete(from);
  }

  *#live(): Generator<[string, { to: string; until: number }]> {
    const now = Date.now();
    for (const entry of this.#moves) {
      if (entry[1].until < now) this.#moves.delete(entry[0]);
      else yield entry;
    }
  }
}
