/**
 * What each site believes is in its bucket, kept in SQLite instead of the JS heap: a Map of a
 * million listed objects held about 650 bytes each in the heap (and the heap never gave back
 * what a comparison made it grow to); a row here is about 80 bytes on disk, read through a
 * page cache of fixed size. The file (`listing.sqlite` in state_dir) is rebuilt from the bucket at
 * every start, so it is written without a journal or fsync; it is deleted when the sites stop.
 *
 * SQLite compares text by its UTF-8 bytes, the order S3 lists keys in, so "the keys under this
 * folder, in order" is a range of the primary key.
 * @module
 */

import { mkdirSync, rmSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import type { RemoteObject } from "../store/types.ts";
import { WriteBatch } from "./batch.ts";

export const LISTING_FILE = "listing.sqlite";

const SCHEMA = `
  PRAGMA journal_mode = OFF;
  PRAGMA synchronous = OFF;
  PRAGMA cache_size = -8192;
  CREATE TABLE objects (
    site INTEGER NOT NULL, rel TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    class TEXT NOT NULL, gen INTEGER NOT NULL, PRIMARY KEY (site, rel)
  ) WITHOUT ROWID;
`;

/** Keys read per query when walking a range: bounded memory, and no cursor held across writes. */
const PAGE = 1_000;

type Statements = Record<
  "get" | "put" | "remove" | "totals" | "prune" | "after" | "under",
  StatementSync
>;

export class ListingStore {
  readonly #db: DatabaseSync;
  readonly #batch: WriteBatch;
  readonly statements: Statements;
  #sites = 0;

  private constructor(db: DatabaseSync, readonly path: string | undefined) {
    db.exec(SCHEMA);
    this.#db = db;
    this.#batch = new WriteBatch(
      (sql) => db.exec(sql),
      (err) => log.error("cannot write the bucket listing", { error: errorMessage(err) }),
    );
    const q = (sql: string) => db.prepare(sql);
    this.statements = {
      get: q("SELECT size, etag, class FROM objects WHERE site = ? AND rel = ?"),
      put: q("INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?)"),
      remove: q("DELETE FROM objects WHERE site = ? AND rel = ?"),
      totals: q("SELECT count(*) AS n, total(size) AS bytes FROM objects WHERE site = ?"),
      prune: q("DELETE FROM objects WHERE site = ? AND gen < ?"),
      after: q(`SELECT rel FROM objects WHERE site = ? AND rel > ? ORDER BY rel LIMIT ${PAGE}`),
      under: q(
        `SELECT rel FROM objects WHERE site = ? AND rel > ? AND rel < ? ORDER BY rel LIMIT ${PAGE}`,
      ),
    };
  }

  /**
   * A new listing file in `dir` (one a killed run left there is replaced). Where it cannot be
   * written, the listings are kept in memory, as SQLite rows: smaller than JS objects, but RSS.
   */
  static open(dir: string): ListingStore {
    const path = `${dir}/${LISTING_FILE}`;
    try {
      mkdirSync(dir, { recursive: true });
      rmSync(path, { force: true });
      return new ListingStore(new DatabaseSync(path), path);
    } catch (err) {
      log.warn("cannot keep bucket listings on disk, keeping them in memory", {
        path,
        error: errorMessage(err),
      });
      return ListingStore.inMemory();
    }
  }

  static inMemory(): ListingStore {
    return new ListingStore(new DatabaseSync(":memory:"), undefined);
  }

  /** A new, empty index for one site; `keyOf` gives an object's key from its relative path. */
  index(keyOf: (rel: string) => string): RemoteIndex {
    return new RemoteIndex(this, ++this.#sites, keyOf);
  }

  write(run: () => void): void {
    this.#batch.write(run);
  }

  close(): void {
    try {
      this.#batch.commit();
      this.#db.close();
      if (this.path) rmSync(this.path, { force: true });
    } catch (err) {
      log.warn("cannot remove the bucket listing file", { error: errorMessage(err) });
    }
  }
}

/** One site's objects by relative path, and their count and total size. */
export class RemoteIndex {
  #count = 0;
  #bytes = 0;
  /** Rows written since the current (or last) listing began carry this; older ones it pruned. */
  #gen = 0;
  /** Paths set or deleted while a listing runs (see `refresh`). */
  #changed: Set<string> | undefined;
  readonly #q: Statements;

  constructor(
    private readonly store: ListingStore,
    private readonly site: number,
    private readonly keyOf: (rel: string) => string,
  ) {
    this.#q = store.statements;
  }

  get size(): number {
    return this.#count;
  }

  /** The total size of the objects, in bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  get(rel: string): RemoteObject | undefined {
    const row = this.#q.get.get(this.site, rel);
    if (!row) return undefined;
    return {
      key: this.keyOf(rel),
      size: Number(row.size),
      etag: String(row.etag),
      storageClass: String(row.class),
    };
  }

  has(rel: string): boolean {
    return this.#q.get.get(this.site, rel) !== undefined;
  }

  set(rel: string, object: RemoteObject): void {
    this.#changed?.add(rel);
    const old = this.#q.get.get(this.site, rel);
    if (old) this.#bytes -= Number(old.size);
    else this.#count++;
    this.#bytes += object.size;
    this.#put(rel, object);
  }

  delete(rel: string): boolean {
    this.#changed?.add(rel);
    const old = this.#q.get.get(this.site, rel);
    if (!old) return false;
    this.#count--;
    this.#bytes -= Number(old.size);
    this.store.write(() => this.#q.remove.run(this.site, rel));
    return true;
  }

  /**
   * The paths of the objects under the folder `dir` ("" for all), in S3's key order, read a page
   * at a time: changes made while it is consumed show up when they lie ahead.
   */
  *keysUnder(dir: string): Generator<string> {
    // Every path under `dir` starts with "dir/", and "0" is the character after "/".
    const end = dir === "" ? undefined : `${dir}0`;
    let after = dir === "" ? "" : `${dir}/`;
    while (true) {
      const rows = end === undefined
        ? this.#q.after.all(this.site, after)
        : this.#q.under.all(this.site, after, end);
      for (const row of rows) yield String(row.rel);
      if (rows.length < PAGE) return;
      after = String(rows[rows.length - 1]!.rel);
    }
  }

  /**
   * Replaces the index with a new listing, given as pages of [path, object] in any order. What
   * the site itself changed while the listing ran is kept as the site knows it: a delete or an
   * upload that completed meanwhile may be missing from the listing's pages or shown as it was,
   * and must not come back from them. A listing that fails leaves the rows it already wrote
   * (newer news) and removes nothing.
   */
  async refresh(
    pages: AsyncIterable<Iterable<readonly [string, RemoteObject]>>,
  ): Promise<void> {
    const gen = ++this.#gen;
    const changed = new Set<string>();
    this.#changed = changed;
    try {
      for await (const page of pages) {
        for (const [rel, object] of page) if (!changed.has(rel)) this.#put(rel, object);
      }
      // Rows neither listed nor written by the site since the listing began: gone.
      this.store.write(() => this.#q.prune.run(this.site, gen));
    } finally {
      this.#changed = undefined;
      const totals = this.#q.totals.get(this.site)!;
      this.#count = Number(totals.n);
      this.#bytes = Number(totals.bytes);
    }
  }

  #put(rel: string, object: RemoteObject): void {
    const { size, etag, storageClass } = object;
    this.store.write(() => this.#q.put.run(this.site, rel, size, etag, storageClass, this.#gen));
  }
}
