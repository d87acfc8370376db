import assert from "node:assert/strict";
import { setLogLevel } from "../lib/log.ts";
import { StateStore } from "../state/store.ts";
import type { UploadBook } from "../state/uploads.ts";
import type { ObjectStore, UploadedPart } from "../store/types.ts";
import { findResumable, type WantedUpload } from "./resume.ts";

setLogLevel("error");

const MiB = 1024 * 1024;
const FILE = { size: 20 * MiB, mtimeMs: 1000.5, ctimeMs: 2000, ino: 42 };
const WANTED: WantedUpload = {
  key: "big.bin",
  size: FILE.size,
  partSize: 8 * MiB,
  options: { storageClass: "STANDARD", contentType: "application/octet-stream" },
  label: undefined,
  mtime: "1.0005",
  encryption: "sse=aws:kms kms_key_id=k1",
};
const LABEL = { md5: "m0", etag: "x-3" };

/** A book holding upload "u1" of big.bin with parts 1 and 2 recorded. */
async function book(labelled = true): Promise<UploadBook> {
  const uploads = StateStore.open(await Deno.makeTempDir()).forSite("s").uploads;
  const { key, partSize, options: { storageClass, contentType } } = WANTED;
  uploads.start({
    key,
    uploadId: "u1",
    partSize,
    file: FILE,
    storageClass,
    contentType,
    acl: undefined,
    label: labelled ? LABEL : undefined,
    mtime: WANTED.mtime,
    encryption: WANTED.encryption,
  });
  uploads.partDone(key, "u1", 1, "e1");
  uploads.partDone(key, "u1", 2, "e2");
  return uploads;
}

/** A store whose ListParts answers `parts` (or fails with `status`), and that notes its aborts. */
function fakeStore(parts: UploadedPart[] | { status: number }) {
  const aborted: string[] = [];
  const store = {
    listParts: () => Array.isArray(parts) ? Promise.resolve(parts) : Promise.reject(parts),
    abortMultipart: (_key: string, uploadId: string) => {
      aborted.push(uploadId);
      return Promise.resolve();
    },
  } as unknown as ObjectStore;
  return { store, aborted };
}

const part = (partNumber: number, etag: string, size = 8 * MiB) => ({ partNumber, size, etag });

Deno.test("findResumable() goes on with the parts the server holds, unrecorded ones included", async () => {
  const uploads = await book();
  const { store, aborted } = fakeStore([part(1, "e1"), part(2, "e2"), part(3, "e3", 4 * MiB)]);
  const found = await findResumable(store, WANTED, { uploads, file: FILE, site: "s" });
  assert.equal(found?.uploadId, "u1");
  assert.deepEqual(found?.label, LABEL, "the upload keeps the label it was created with");
  assert.deepEqual(found?.held, new Map([[1, "e1"], [2, "e2"], [3, "e3"]]));
  assert.deepEqual(aborted, []);
});

const REFUSED: [string, UploadedPart[], Partial<WantedUpload>, Partial<typeof FILE>][] = [
  ["the file changed", [part(1, "e1"), part(2, "e2")], {}, { mtimeMs: 1 }],
  ["the storage class changed", [part(1, "e1"), part(2, "e2")], {
    options: { storageClass: "STANDARD_IA", contentType: "application/octet-stream" },
  }, {}],
  ["the ACL changed", [part(1, "e1"), part(2, "e2")], {
    options: {
      storageClass: "STANDARD",
      contentType: "application/octet-stream",
      acl: "public-read",
    },
  }, {}],
  ["a recorded part is missing", [part(1, "e1")], {}, {}],
  ["a recorded part has another ETag", [part(1, "e1"), part(2, "other")], {}, {}],
  ["a part has the wrong size", [part(1, "e1"), part(2, "e2", MiB)], {}, {}],
  ["a part lies beyond the file", [part(1, "e1"), part(2, "e2"), part(4, "e4")], {}, {}],
  [
    "the label would differ",
    [part(1, "e1"), part(2, "e2")],
    { label: { md5: "m", etag: "x-3" } },
    {},
  ],
  ["the mtime metadata would differ", [part(1, "e1"), part(2, "e2")], { mtime: "1.0006" }, {}],
  ["store_mtime was switched off", [part(1, "e1"), part(2, "e2")], { mtime: undefined }, {}],
  // A record keeps the encryption the upload was created with; the parts cannot be sent under
  // another, nor the object get it.
  [
    "the KMS key id changed",
    [part(1, "e1"), part(2, "e2")],
    { encryption: "sse=aws:kms kms_key_id=k2" },
    {},
  ],
  ["encryption was switched off", [part(1, "e1"), part(2, "e2")], { encryption: undefined }, {}],
  [
    "the site went to SSE-C",
    [part(1, "e1"), part(2, "e2")],
    { encryption: "sse=SSE-C key_md5=bmV3LWtleQ==" },
    {},
  ],
];
for (const [why, listed, wanted, file] of REFUSED) {
  Deno.test(`findResumable() aborts and forgets the upload when ${why}`, async () => {
    const uploads = await book();
    const { store, aborted } = fakeStore(listed);
    const resume = { uploads, file: { ...FILE, ...file }, site: "s" };
    assert.equal(await findResumable(store, { ...WANTED, ...wanted }, resume), undefined);
    assert.deepEqual(aborted, ["u1"]);
    assert.equal(uploads.has("big.bin"), false);
  });
}

Deno.test("findResumable() forgets an upload the server no longer has, and throws other errors", async () => {
  const uploads = await book();
  const gone = fakeStore({ status: 503 });
  const resume = { uploads, file: FILE, site: "s" };
  await assert.rejects(findResumable(gone.store, WANTED, resume));
  assert.equal(uploads.has("big.bin"), true, "a failure to ask keeps it for the next attempt");
  const missing = fakeStore({ status: 404 });
  assert.equal(await findResumable(missing.store, WANTED, resume), undefined);
  assert.deepEqual(missing.aborted, []);
  assert.equal(uploads.has("big.bin"), false);
});

Deno.test("findResumable() aborts an upload an earlier version started without a label", async () => {
  const uploads = await book(false);
  const { store, aborted } = fakeStore([part(1, "e1"), part(2, "e2")]);
  const resume = { uploads, file: FILE, site: "s" };
  assert.equal(await findResumable(store, WANTED, resume), undefined);
  assert.deepEqual(aborted, ["u1"]);
});

Deno.test("findResumable() resumes an SSE-C upload only under the key it was created with", async () => {
  const sseC = (md5: string) => ({ ...WANTED, encryption: `sse=SSE-C key_md5=${md5}` });
  const listed = [part(1, "e1"), part(2, "e2")];
  for (const [wanted, resumed] of [[sseC("a2V5LWE="), true], [sseC("a2V5LWI="), false]] as const) {
    const uploads = await book();
    uploads.start({ ...uploads.get("big.bin")!.record, encryption: sseC("a2V5LWE=").encryption });
    const { store, aborted } = fakeStore(listed);
    const found = await findResumable(store, wanted, { uploads, file: FILE, site: "s" });
    assert.equal(found?.uploadId, resumed ? "u1" : undefined);
    assert.deepEqual(aborted, resumed ? [] : ["u1"], "another key's upload is aborted");
    assert.equal(uploads.has("big.bin"), resumed);
  }
});
