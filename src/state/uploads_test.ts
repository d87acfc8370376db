import assert from "node:assert/strict";
import { setLogLevel } from "../lib/log.ts";
import { StateStore } from "./store.ts";
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

Deno.test("UploadBook of a store that cannot be opened remembers nothing, and every call works", () => {
  const store = StateStore.open("/proc/s3sync-cannot-exist");
  const book = store.forSite("s").uploads;
  book.start(RECORD);
  book.partDone(RECORD.key, "u1", 1, "p1");
  assert.equal(book.get(RECORD.key), undefined);
  assert.deepEqual(book.all(), []);
  book.forget(RECORD.key, "u1");
  store.close();
});
