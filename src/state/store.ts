/**
 * The local state store: for each file, what it looked like (size, mtime, ctime, inode) when its
 * bytes were proven to be an object's (hashed, uploaded, or copied from an object proven to hold
 * them), so a restart does not hash unchanged files again. It is only a cache: a row is trusted only
 * when every attribute still matches, the row is not "racily clean" (see `certifies`), and the
 * bucket still lists that ETag; a store that cannot be opened or written is switched off (with one
 * warning) while syncing goes on. It also remembers our multipart uploads in progress, so that a
 * stop does not cost them their parts (uploads.ts).
 * @module
 */

import { mkdirSync, renameSync } from "node:fs";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { WriteBatch } from "./batch.ts";
import {
  prepareUploads,
  siteUploads,
  type UploadBook,
  UPLOADS_SCHEMA,
  type UploadStatements,
} from "./uploads.ts";

/** What lstat says about a regular file: what a row compares. */
export interface FileStamp {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
}

/** "The file with this stamp, taken at `seenAtMs`, holds the bytes of the object `etag`." */
export interface FileState extends FileStamp {
  readonly etag: string;
  /** When the stamp was taken (ms since epoch), before the bytes were read. */
  readonly seenAtMs: number;
}

/**
 * How coarse file timestamps may be. Deno 2.9 gives ctime in whole seconds (Deno.lstat and
 * node:fs alike), so a file changed twice within one second can keep its stamp.
 */
export const TIMESTAMP_GRANULARITY_MS = 1_000;

export function sameStamp(a: FileStamp | undefined, b: FileStamp): boolean {
  return a !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

/**
 * True when `row` vouches for `file` as it is now: the same stamp, and a stamp taken at least one
 * timestamp granule after the file's last change. A row taken sooner is "racily clean" (as git
 * calls it): a rewrite later in that same second, with the mtime put back, would keep the stamp.
 * The last change is the ctime, which no tool can set; without one (a platform that has none), the
 * mtime stands in.
 */
export function certifies(row: FileState | undefined, file: FileStamp): row is FileState {
  if (!row || !sameStamp(row, file)) return false;
  return (row.ctimeMs || row.mtimeMs) + TIMESTAMP_GRANULARITY_MS <= row.seenAtMs;
}

/** One site's rows; every method is a no-op once the store has failed. */
export interface SiteState {
  get(rel: string): FileState | undefined;
  put(rel: string, state: FileState): void;
  delete(rel: string): void;
  /** Another path that held this very file (same inode, size and mtime): a rename's old name. */
  findMoved(rel: string, file: FileStamp): string | undefined;
  /** Our multipart uploads in progress, kept across stops so that they resume (uploads.ts). */
  readonly uploads: UploadBook;
}

/**
 * Bumped when rows written by earlier versions must not be trusted: version 2 stores when each
 * stamp was taken, and rows of version 1 may certify bytes that were never verified (a copy
 * recorded without checking its source). A store of another version is emptied, not migrated.
 */
const SCHEMA_VERSION = 2;

const SCHEMA = `
  PRAGMA journal_mode = WAL;
  PRAGMA synchronous = NORMAL;
  CREATE TABLE IF NOT EXISTS files (
    site TEXT NOT NULL, rel TEXT NOT NULL, size INTEGER NOT NULL, mtime_ms REAL NOT NULL,
    ctime_ms REAL NOT NULL, ino INTEGER NOT NULL, etag TEXT NOT NULL, seen_at_ms REAL NOT NULL,
    PRIMARY KEY (site, rel)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS files_by_ino ON files (site, ino);
`;

export const STATE_FILE = "state.sqlite";

/**
 * The rows of another path with this file's inode, size and mtime. Without statistics SQLite would
 * prefer the primary key (site, rel), which scans every row of the site: O(files) for each new
 * file, quadratic over a first sync (a 100,000-file sync spent most of its time here).
 */
export const FIND_MOVED = "SELECT rel FROM files INDEXED BY files_by_ino " +
  "WHERE site = ? AND ino = ? AND size = ? AND mtime_ms = ? AND rel <> ?";

export class StateStore {
  #db: DatabaseSync | undefined;
  #get!: StatementSync;
  #put!: StatementSync;
  #delete!: StatementSync;
  #byIno!: StatementSync;
  #uploads!: UploadStatements;
  /** One book per site, so that its in-memory index is the only one. */
  readonly #books = new Map<string, UploadBook>();
  readonly #batch = new WriteBatch(
    (sql) => this.#db!.exec(sql),
    (err) => this.#fail("write", err),
  );

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
      const { user_version: version } = db.prepare("PRAGMA user_version").get() as {
        user_version: number;
      };
      if (version !== SCHEMA_VERSION) {
        // Version 0 is a new file, or one written before versions were kept.
        const old = db.prepare(
          "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'files'",
        ).get() as { n: number };
        if (old.n > 0) {
          log.info("state store from another version emptied; files are compared by content once", {
            path: this.path,
            version,
          });
        }
        db.exec(`DROP TABLE IF EXISTS files; PRAGMA user_version = ${SCHEMA_VERSION};`);
      }
      // The upload tables outlive a version change of the file rows: every part they name is
      // checked against the file and the server before it is trusted.
      db.exec(SCHEMA + UPLOADS_SCHEMA);
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
      "SELECT size, mtime_ms, ctime_ms, ino, etag, seen_at_ms FROM files WHERE site = ? AND rel = ?",
    );
    this.#put = db.prepare("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    this.#delete = db.prepare("DELETE FROM files WHERE site = ? AND rel = ?");
    this.#byIno = db.prepare(FIND_MOVED);
    this.#uploads = prepareUploads(db);
  }

  /** A failed store is closed and forgotten: a wrong cache would be worse than none. */
  #fail(operation: string, err: unknown): void {
    log.warn("state store unusable, syncing without it (files are compared by content)", {
      path: this.path,
      operation,
      error: errorMessage(err),
    });
    this.#batch.reset();
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
      uploads: this.#uploadsOf(site),
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
            seenAtMs: Number(row.seen_at_ms),
          };
        }),
      put: (rel, s) =>
        this.#run("write", undefined, () => {
          this.#write(() =>
            this.#put.run(site, rel, s.size, s.mtimeMs, s.ctimeMs, s.ino, s.etag, s.seenAtMs)
          );
        }),
      delete: (rel) =>
        this.#run("write", undefined, () => {
          this.#write(() => this.#delete.run(site, rel));
        }),
      findMoved: (rel, f) =>
        // Inode 0 is no identity (Windows, see statFile): every file would share it.
        f.ino === 0 ? undefined : this.#run("read", undefined, () => {
          const row = this.#byIno.get(site, f.ino, f.size, f.mtimeMs, rel) as
            | { rel: string }
            | undefined;
          return row?.rel;
        }),
    };
  }

  #uploadsOf(site: string): UploadBook {
    let book = this.#books.get(site);
    if (!book) {
      book = siteUploads(site, {
        read: (fallback, fn) => this.#run("read", fallback, () => fn(this.#uploads)),
        write: (fn) => this.#run("write", undefined, () => this.#write(() => fn(this.#uploads))),
      });
      this.#books.set(site, book);
    }
    return book;
  }

  /**
   * Writes go into batched transactions (see WriteBatch): a crash loses at most the last moments'
   * rows, which only costs their files a hash.
   */
  #write(run: () => void): void {
    this.#batch.write(run);
  }

  #commit(): void {
    this.#run("write", undefined, () => this.#batch.commit());
  }

  close(): void {
    this.#commit();
    this.#run("close", undefined, () => this.#db?.close());
    this.#db = undefined;
  }
}
