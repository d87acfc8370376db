import assert from "node:assert/strict";
import { setLogLevel } from "../lib/log.ts";
import { DatabaseSync } from "node:sqlite";
import { STATE_FILE, StateStore } from "./store.ts";
import type { UploadRecord } from "./uploads.ts";

setLogLevel("error");

const RECORD: UploadRecord = {
  key: "dir/big.bin",
  uploadId: "u1",
  partSize: 8 * 1024 * 1024,
  file: { size: 20_000_000, mtimeMs: 1000.5, ctimeMs: 2000, ino: 42 },
  storageClass: "STANDARD",
  contentType: "application/octet-stream",
  acl: "bucket-owner-full-control",
  label: undefined,
  mtime: "1.0005",
  encryption: "sse=SSE-C key_md5=c2VjcmV0LWtleS1tZDU=",
};

Deno.test("UploadBook keeps an upload and its parts per site across reopening", async () => {
  const dir = await Deno.makeTempDir();
  const store = StateStore.open(dir);
  const book = store.forSite("a").uploads;
  book.start({ ...RECORD, label: { md5: "m", etag: "e-3" } });
  book.partDone(RECORD.key, "u1", 1, "p1");
  book.partDone(RECORD.key, "u1", 3, "p3");
  // Another upload id is not this key's upload: its part is not recorded.
  book.partDone(RECORD.key, "other", 2, "p2");
  assert.equal(store.forSite("b").uploads.has(RECORD.key), false);
  store.close();

  const again = StateStore.open(dir);
  const reopened = again.forSite("a").uploads;
  assert.equal(reopened.has(RECORD.key), true);
  assert.deepEqual(reopened.get(RECORD.key), {
    record: { ...RECORD, label: { md5: "m", etag: "e-3" } },
    parts: new Map([[1, "p1"], [3, "p3"]]),
  });
  assert.deepEqual(reopened.all().map((r) => r.uploadId), ["u1"]);
  again.close();
});

Deno.test("UploadBook.start() replaces a key's upload and its parts; forget() only its own id", async () => {
  const store = StateStore.open(await Deno.makeTempDir());
  const book = store.forSite("s").uploads;
  book.start(RECORD);
  book.partDone(RECORD.key, "u1", 1, "p1");
  book.start({ ...RECORD, uploadId: "u2" });
  assert.deepEqual(book.get(RECORD.key)?.parts, new Map());
  assert.equal(book.get(RECORD.key)?.record.uploadId, "u2");
  book.forget(RECORD.key, "u1");
  assert.equal(book.has(RECORD.key), true, "a stale id does not forget the newer upload");
  book.forget(RECORD.key, "u2");
  assert.equal(book.has(RECORD.key), false);
  assert.equal(book.get(RECORD.key), undefined);
  assert.deepEqual(book.all(), []);
  store.close();
});

Deno.test("UploadBook of a store that cannot be opened remembers nothing, and every call works", async () => {
  // Below a regular file, so that mkdir fails on every system and for root too.
  const store = StateStore.open(`${await Deno.makeTempFile()}/state`);
  const book = store.forSite("s").uploads;
  book.start(RECORD);
  book.partDone(RECORD.key, "u1", 1, "p1");
  assert.equal(book.get(RECORD.key), undefined);
  assert.deepEqual(book.all(), []);
  book.forget(RECORD.key, "u1");
  store.close();
});

/**
 * A state folder whose uploads table is as an earlier version made it, holding one row: without
 * `encryption`, and without `mtime` and `acl` unless asked for.
 */
async function oldUploadsTable({ acl, mtime }: { acl: boolean; mtime: boolean }): Promise<string> {
  const dir = await Deno.makeTempDir();
  StateStore.open(dir).close();
  const db = new DatabaseSync(`${dir}/${STATE_FILE}`);
  db.exec("DROP TABLE uploads");
  db.exec(`CREATE TABLE uploads (
    site TEXT NOT NULL, key TEXT NOT NULL, upload_id TEXT NOT NULL, part_size INTEGER NOT NULL,
    size INTEGER NOT NULL, mtime_ms REAL NOT NULL, ctime_ms REAL NOT NULL, ino INTEGER NOT NULL,
    storage_class TEXT NOT NULL, content_type TEXT NOT NULL, ${acl ? "acl TEXT," : ""}
    label_md5 TEXT, label_etag TEXT, started_at_ms REAL NOT NULL, ${mtime ? "mtime TEXT," : ""}
    PRIMARY KEY (site, key)
  ) WITHOUT ROWID`);
  db.prepare(
    "INSERT INTO uploads VALUES ('s', 'k', 'u0', 8, 20, 1, 2, 3, 'STANDARD', 'a/b', " +
      `${acl ? "NULL, " : ""}'m', 'e-3', 0${mtime ? ", '1.5'" : ""})`,
  ).run();
  db.close();
  return dir;
}

// Without mtime and encryption, then without encryption only.
for (const mtime of [false, true]) {
  const what = mtime ? "an encryption" : "an mtime or an encryption";
  Deno.test(`UploadBook reads a store made before uploads had ${what}: its records have none`, async () => {
    const store = StateStore.open(await oldUploadsTable({ acl: true, mtime }));
    const book = store.forSite("s").uploads;
    assert.equal(book.get("k")?.record.mtime, mtime ? "1.5" : undefined);
    assert.equal(book.get("k")?.record.encryption, undefined);
    assert.deepEqual(book.get("k")?.record.label, { md5: "m", etag: "e-3" });
    book.start(RECORD);
    assert.equal(book.get(RECORD.key)?.record.mtime, "1.0005");
    assert.equal(book.get(RECORD.key)?.record.encryption, RECORD.encryption);
    store.close();
  });
}

Deno.test("UploadBook reads a store made before uploads recorded their ACL", async () => {
  const store = StateStore.open(await oldUploadsTable({ acl: false, mtime: false }));
  const book = store.forSite("s").uploads;
  assert.equal(book.get("k")?.record.acl, undefined);
  book.start(RECORD);
  assert.equal(book.get(RECORD.key)?.record.acl, RECORD.acl);
  store.close();
});
