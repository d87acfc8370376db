/**
 * What a site believes is in its bucket, by relative path, with a tree of folders beside it: "is
 * there anything under this folder?" and "which keys lie under it?" cost what that folder holds,
 * never a scan of the whole bucket (the watcher asks for every path that disappears; a scan each
 * time made a burst of removals quadratic).
 * @module
 */

import type { RemoteObject } from "../store/types.ts";

interface Folder {
  /** Objects directly in this folder, by relative path. */
  readonly files: Set<string>;
  /** Folders directly in this one that hold an object somewhere under them. */
  readonly folders: Set<string>;
  /** Objects anywhere under this folder. */
  count: number;
}

const parentOf = (rel: string): string => rel.slice(0, Math.max(0, rel.lastIndexOf("/")));

export class RemoteIndex extends Map<string, RemoteObject> {
  /** Folders that hold an object somewhere under them; "" is the root. */
  readonly #folders = new Map<string, Folder>();
  /** Paths set or deleted while a listing runs (see `refresh`). */
  #changed: Set<string> | undefined;
  #bytes = 0;

  override set(rel: string, object: RemoteObject): this {
    this.#changed?.add(rel);
    const old = this.get(rel);
    if (old) this.#bytes -= old.size;
    else this.#add(rel);
    this.#bytes += object.size;
    return super.set(rel, object);
  }

  override delete(rel: string): boolean {
    this.#changed?.add(rel);
    const old = this.get(rel);
    if (!old) return false;
    super.delete(rel);
    this.#bytes -= old.size;
    this.#remove(rel);
    return true;
  }

  override clear(): void {
    super.clear();
    this.#folders.clear();
    this.#bytes = 0;
  }

  /** The total size of the objects, in bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True when some object lies under the folder `dir` ("" is the root). */
  hasUnder(dir: string): boolean {
    return (this.#folders.get(dir)?.count ?? 0) > 0;
  }

  /** The paths of the objects under the folder `dir`, at this moment. */
  keysUnder(dir: string): string[] {
    const keys: string[] = [];
    const stack = [dir];
    for (let current = stack.pop(); current !== undefined; current = stack.pop()) {
      const folder = this.#folders.get(current);
      if (!folder) continue;
      keys.push(...folder.files);
      stack.push(...folder.folders);
    }
    return keys;
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

  #add(rel: string): void {
    let child = rel;
    let dir = parentOf(rel);
    let folder = this.#folder(dir);
    folder.files.add(rel);
    while (true) {
      folder.count++;
      if (dir === "") return;
      child = dir;
      dir = parentOf(dir);
      folder = this.#folder(dir);
      folder.folders.add(child);
    }
  }

  #remove(rel: string): void {
    let dir = parentOf(rel);
    this.#folders.get(dir)?.files.delete(rel);
    let emptied: string | undefined;
    while (true) {
      const folder = this.#folders.get(dir);
      if (!folder) return; // during Map's own constructor
      if (emptied !== undefined) folder.folders.delete(emptied);
      emptied = --folder.count === 0 ? dir : undefined;
      if (emptied !== undefined) this.#folders.delete(dir);
      if (dir === "") return;
      dir = parentOf(dir);
    }
  }

  #folder(dir: string): Folder {
    let folder = this.#folders.get(dir);
    if (!folder) {
      folder = { files: new Set(), folders: new Set(), count: 0 };
      this.#folders.set(dir, folder);
    }
    return folder;
  }
}
