/**
 * What a site believes is in its bucket, by relative path, plus a count of the objects under each
 * folder, so that "is there anything under this path?" is answered at once. The watcher asks it
 * for every path that disappears; scanning every key each time made a burst quadratic.
 * @module
 */

import type { RemoteObject } from "../store/types.ts";

export class RemoteIndex extends Map<string, RemoteObject> {
  readonly #folders = new Map<string, number>();
  /** Paths set or deleted while a listing runs (see `refresh`). */
  #changed: Set<string> | undefined;

  override set(rel: string, object: RemoteObject): this {
    this.#changed?.add(rel);
    if (!this.has(rel)) this.#count(rel, 1);
    return super.set(rel, object);
  }

  override delete(rel: string): boolean {
    this.#changed?.add(rel);
    if (!super.delete(rel)) return false;
    this.#count(rel, -1);
    return true;
  }

  /**
   * Replaces the index with a new listing. What the site itself changed while the listing ran is
   * kept as the site knows it: a delete or an upload that completed meanwhile may be missing from
   * the listing's pages or shown as it was, and must not come back from them.
   */
  async refresh(list: () => Promise<Map<string, RemoteObject>>): Promise<void> {
    const changed = new Set<string>();
    this.#changed = changed;
    let listed: Map<string, RemoteObject>;
    try {
      listed = await list();
    } finally {
      this.#changed = undefined;
    }
    const kept = [...changed].map((rel) => [rel, this.get(rel)] as const);
    this.clear();
    for (const [rel, object] of listed) if (!changed.has(rel)) this.set(rel, object);
    for (const [rel, object] of kept) if (object) this.set(rel, object);
  }

  override clear(): void {
    super.clear();
    this.#folders.clear();
  }

  /** True when some object lies under the folder `dir`. */
  hasUnder(dir: string): boolean {
    return (this.#folders.get(dir) ?? 0) > 0;
  }

  #count(rel: string, delta: number): void {
    // During Map's own constructor `#folders` does not exist yet; nothing is passed to it here.
    for (let slash = rel.indexOf("/"); slash >= 0; slash = rel.indexOf("/", slash + 1)) {
      const dir = rel.slice(0, slash);
      const count = (this.#folders.get(dir) ?? 0) + delta;
      if (count > 0) this.#folders.set(dir, count);
      else this.#folders.delete(dir);
    }
  }
}
