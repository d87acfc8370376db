/**
 * The local state store: for each file, what it looked like (size, mtime, ctime, inode) when we last
 * knew its object's ETag, so a restart does not hash unchanged files again. It is only a cache: a
 * row is trusted only when every attribute still matches and the bucket still lists that ETag, and
 * a store that cannot be opened or written is switched off (with one warning) while syncing goes on.
 * @module
 */

import { mkdirSync, renameSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";

export interface FileState {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
  readonly etag: string;
}

/** One site's rows; every method is a no-op once the store has failed. */
export interface SiteState {
  get(rel: string): FileState | undefined;
  put(rel: string, state: FileState): void;
  delete(rel: string): void;
  /** Another path that held this very file (same inode, size and mtime): a rename's old name. */
  findMoved(rel: string, file: Omit<FileState, "etag">): string | undefined;
}

const SCHEMA = `
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = NORMAL;
  CREATE TABLE IF NOT EXISTS files (
    site TEXT NOT NULL, rel TEXT NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL,
    ctime_ms REAL NOT NULL, ino INTEGER NOT NULL, etag TEXT NOT NULL, PRIMARY KEY (site, rel)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS files_by_ino ON files (site, ino);
`;

export const STATE_FILE = "state.sqlite";

export class StateStore {
  #db: DatabaseSync | undefined;
  #get!: StatementSync;
  #put!: StatementSync;
  #delete!: StatementSync;
  #byIno!: StatementSync;

  private constructor(readonly path: string) {}

  /** Opens (or creates) the store in `dir`; without one, everything still works, only slower. */
  static open(dir: string): StateStore {
    const store = new StateStore(`${dir}/${STATE_FILE}`);
    try {
      mkdirSync(dir, { recursive: true });
      store.#connect();
    } catch (err) {
      if (!/not a database|malformed|corrupt/i.test(errorMessage(err))) {
        store.#fail("open", err);
        return store;
      }
      // A damaged store is only a lost cache: keep it aside for a post-mortem and start afresh.
      const aside = `${store.path}.corrupt-${Date.now()}`;
      log.warn("state store damaged, starting a new one", { path: store.path, moved_to: aside });
      try {
        renameSync(store.path, aside);
        store.#connect();
      } catch (again) {
        store.#fail("rebuild", again);
      }
    }
    return store;
  }

  #connect(): void {
    const db = new DatabaseSync(this.path);
    try {
      db.exec(SCHEMA);
      this.#prepare(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.#db = db;
    log.debug("state store open", { path: this.path });
  }

  get usable(): boolean {
    return this.#db !== undefined;
  }

  #prepare(db: DatabaseSync): void {
    this.#get = db.prepare(
      "SELECT size, mtime_ms, ctime_ms, ino, etag FROM files WHERE site = ? AND rel = ?",
    );
    this.#put = db.prepare("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.#delete = db.prepare("DELETE FROM files WHERE site = ? AND rel = ?");
    this.#byIno = db.prepare(
      "SELECT rel FROM files WHERE site = ? AND ino = ? AND size = ? AND mtime_ms = ? AND rel <> ?",
    );
  }

  /** A failed store is closed and forgotten: a wrong cache would be worse than none. */
  #fail(operation: string, err: unknown): void {
    log.warn("state store unusable, syncing without it (files are compared by content)", {
      path: this.path,
      operation,
      error: errorMessage(err),
    });
    try {
      this.#db?.close();
    } catch {
      // already broken
    }
    this.#db = undefined;
  }

  #run<T>(operation: string, fallback: T, fn: () => T): T {
    if (!this.#db) return fallback;
    try {
      return fn();
    } catch (err) {
      this.#fail(operation, err);
      return fallback;
    }
  }

  /** `site` identifies a site by what it syncs, not by its name, which may change. */
  forSite(site: string): SiteState {
    return {
      get: (rel) =>
        this.#run("read", undefined, () => {
          const row = this.#get.get(site, rel) as Record<string, number | string> | undefined;
          if (!row) return undefined;
          return {
            size: Number(row.size),
            mtimeMs: Number(row.mtime_ms),
            ctimeMs: Number(row.ctime_ms),
            ino: Number(row.ino),
            etag: String(row.etag),
          };
        }),
      put: (rel, s) =>
        this.#run("write", undefined, () => {
          this.#put.run(site, rel, s.size, s.mtimeMs, s.ctimeMs, s.ino, s.etag);
        }),
      delete: (rel) =>
        this.#run("write", undefined, () => {
          this.#delete.run(site, rel);
        }),
      findMoved: (rel, f) =>
        this.#run("read", undefined, () => {
          const row = this.#byIno.get(site, f.ino, f.size, f.mtimeMs, rel) as
            | { rel: string }
            | undefined;
          return row?.rel;
        }),
    };
  }

  close(): void {
    this.#run("close", undefined, () => this.#db?.close());
    this.#db = undefined;
  }
}
