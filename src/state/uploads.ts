/**
 * Our own multipart uploads, remembered in the state store so that one cut short by a stop, a
 * reload or a kill goes on later from the parts the server already holds, instead of from zero.
 * A record says "the upload `uploadId` of `key` was started for the file with this stamp, in parts
 * of `partSize`, with these options"; its parts say "part N was sent and the server answered with
 * this ETag". Nothing here is trusted on its own word: a resume re-reads every part it skips and
 * checks it against the server's listing (see pipeline/resume.ts). Rows live in the same database
 * and write batches as the file rows (store.ts), so a kill loses at most the last moments' parts,
 * which are then sent again.
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { FileStamp } from "./store.ts";

export const UPLOADS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS uploads (
    site TEXT NOT NULL, key TEXT NOT NULL, upload_id TEXT NOT NULL, part_size INTEGER NOT NULL,
    size INTEGER NOT NULL, mtime_ms REAL NOT NULL, ctime_ms REAL NOT NULL, ino INTEGER NOT NULL,
    storage_class TEXT NOT NULL, content_type TEXT NOT NULL, acl TEXT,
    label_md5 TEXT, label_etag TEXT, started_at_ms REAL NOT NULL, mtime TEXT,
    encryption TEXT,
    PRIMARY KEY (site, key)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS upload_parts (
    site TEXT NOT NULL, upload_id TEXT NOT NULL, part INTEGER NOT NULL, etag TEXT NOT NULL,
    PRIMARY KEY (site, upload_id, part)
  ) WITHOUT ROWID;
`;

/**
 * The `s3sync-md5` metadata an upload was created with, and the multipart ETag its parts must give
 * for that MD5 to be true of them (both from one hash of the file).
 */
export interface UploadLabel {
  readonly md5: string;
  readonly etag: string;
}

/** One multipart upload of ours as it was started. */
export interface UploadRecord {
  readonly key: string;
  readonly uploadId: string;
  readonly partSize: number;
  /** The file when its upload started: a resume needs the same stamp. */
  readonly file: FileStamp;
  /** Fixed at CreateMultipartUpload, so a resume must want the same. */
  readonly storageClass: string;
  readonly contentType: string;
  /** The canned ACL it was created with; undefined for none. */
  readonly acl: string | undefined;
  readonly label: UploadLabel | undefined;
  /** The `mtime` metadata it was created with, as sent; undefined for none. */
  readonly mtime: string | undefined;
  /**
   * The encryption it was created with (`ObjectStore.uploadEncryption`: for SSE-C the key's MD5,
   * never the key); undefined for none.
   */
  readonly encryption: string | undefined;
}

export interface RecordedUpload {
  readonly record: UploadRecord;
  /** The ETag the server gave each part sent, by part number. */
  readonly parts: ReadonlyMap<number, string>;
}

/** One site's multipart uploads, one at most per key (a path is in the pipeline once). */
export interface UploadBook {
  /** Cheap (in memory): whether `key` has a recorded upload. */
  has(key: string): boolean;
  get(key: string): RecordedUpload | undefined;
  all(): UploadRecord[];
  /** Records a new upload, replacing (with its parts) whatever `key` had. */
  start(record: UploadRecord): void;
  partDone(key: string, uploadId: string, partNumber: number, etag: string): void;
  /** Forgets `uploadId` of `key`, if it is still the recorded one. */
  forget(key: string, uploadId: string): void;
}

export interface UploadStatements {
  readonly ids: StatementSync;
  readonly get: StatementSync;
  readonly all: StatementSync;
  readonly parts: StatementSync;
  readonly put: StatementSync;
  readonly putPart: StatementSync;
  readonly delete: StatementSync;
  readonly deleteParts: StatementSync;
}

const COLUMNS = "key, upload_id, part_size, size, mtime_ms, ctime_ms, ino, storage_class, " +
  "content_type, acl, label_md5, label_etag, mtime, encryption";

/**
 * Stores made before uploads recorded their ACL, carried their mtime or recorded their encryption
 * lack that column. Their records read as "no ACL", "no mtime metadata" and "no encryption", which
 * is true of them (those versions sent none): an upload that wants one is then started afresh.
 */
function addColumns(db: DatabaseSync): void {
  const columns = db.prepare("SELECT name FROM pragma_table_info('uploads')").all();
  for (const name of ["acl", "mtime", "encryption"]) {
    if (!columns.some((column) => column.name === name)) {
      db.exec(`ALTER TABLE uploads ADD COLUMN ${name} TEXT`);
    }
  }
}

export function prepareUploads(db: DatabaseSync): UploadStatements {
  addColumns(db);
  return {
    ids: db.prepare("SELECT key, upload_id FROM uploads WHERE site = ?"),
    get: db.prepare(`SELECT ${COLUMNS} FROM uploads WHERE site = ? AND key = ?`),
    all: db.prepare(`SELECT ${COLUMNS} FROM uploads WHERE site = ?`),
    parts: db.prepare("SELECT part, etag FROM upload_parts WHERE site = ? AND upload_id = ?"),
    put: db.prepare(
      `INSERT OR REPLACE INTO uploads (site, ${COLUMNS}, started_at_ms) ` +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    putPart: db.prepare("INSERT OR REPLACE INTO upload_parts VALUES (?, ?, ?, ?)"),
    delete: db.prepare("DELETE FROM uploads WHERE site = ? AND key = ? AND upload_id = ?"),
    deleteParts: db.prepare("DELETE FROM upload_parts WHERE site = ? AND upload_id = ?"),
  };
}

/** How a book reaches the database: through the store, which owns failures and write batches. */
export interface UploadAccess {
  read<T>(fallback: T, fn: (statements: UploadStatements) => T): T;
  write(fn: (statements: UploadStatements) => void): void;
}

type Row = Record<string, string | number | null>;

const optional = (value: string | number | null | undefined): string | undefined =>
  value === null || value === undefined ? undefined : String(value);

function toRecord(row: Row): UploadRecord {
  const md5 = row.label_md5;
  const etag = row.label_etag;
  return {
    key: String(row.key),
    uploadId: String(row.upload_id),
    partSize: Number(row.part_size),
    file: {
      size: Number(row.size),
      mtimeMs: Number(row.mtime_ms),
      ctimeMs: Number(row.ctime_ms),
      ino: Number(row.ino),
    },
    storageClass: String(row.storage_class),
    contentType: String(row.content_type),
    acl: optional(row.acl),
    label: md5 && etag ? { md5: String(md5), etag: String(etag) } : undefined,
    mtime: optional(row.mtime),
    encryption: optional(row.encryption),
  };
}

/** `site` is the same identity as the site's file rows (store.ts `forSite`). */
export function siteUploads(site: string, access: UploadAccess): UploadBook {
  // Upload ids by key, kept in memory: every job that ends asks whether its key has an upload,
  // and almost none has.
  const ids = new Map<string, string>();
  for (const row of access.read([], (s) => s.ids.all(site) as Row[])) {
    ids.set(String(row.key), String(row.upload_id));
  }
  return {
    has: (key) => ids.has(key),
    get: (key) => {
      if (!ids.has(key)) return undefined;
      return access.read(undefined, (s) => {
        const row = s.get.get(site, key) as Row | undefined;
        if (!row) return undefined;
        const record = toRecord(row);
        const parts = new Map<number, string>();
        for (const part of s.parts.all(site, record.uploadId) as Row[]) {
          parts.set(Number(part.part), String(part.etag));
        }
        return { record, parts };
      });
    },
    all: () => access.read([], (s) => (s.all.all(site) as Row[]).map(toRecord)),
    start: (r) => {
      const previous = ids.get(r.key);
      ids.set(r.key, r.uploadId);
      access.write((s) => {
        if (previous !== undefined) s.deleteParts.run(site, previous);
        const { size, mtimeMs, ctimeMs, ino } = r.file;
        s.put.run(
          site,
          r.key,
          r.uploadId,
          r.partSize,
          size,
          mtimeMs,
          ctimeMs,
          ino,
          r.storageClass,
          r.contentType,
          r.acl ?? null,
          r.label?.md5 ?? null,
          r.label?.etag ?? null,
          r.mtime ?? null,
          r.encryption ?? null,
          Date.now(),
        );
      });
    },
    partDone: (key, uploadId, partNumber, etag) => {
      if (ids.get(key) !== uploadId) return;
      access.write((s) => s.putPart.run(site, uploadId, partNumber, etag));
    },
    forget: (key, uploadId) => {
      if (ids.get(key) !== uploadId) return;
      ids.delete(key);
      access.write((s) => {
        s.delete.run(site, key, uploadId);
        s.deleteParts.run(site, uploadId);
      });
    },
  };
}
