import assert from "node:assert/strict";
import { join } from "node:path";
import { setLogLevel } from "../lib/log.ts";
import { StateStore } from "../state/store.ts";
import type { CompletedPart, ObjectStore } from "../store/types.ts";
import { MiB, PART_SIZE } from "./etag.ts";
import { hashFile } from "./hash.ts";
import { uploadFile } from "./transfer.ts";

setLogLevel("error");

/**
 * A store that takes a multipart upload and completes it with `completed`: AWS with SSE-KMS or
 * SSE-C answers an ETag that is no MD5 of the parts, which RGW (the test server) cannot show.
 */
function fakeStore(completed: string | undefined) {
  const sent: CompletedPart[][] = [];
  const store = {
    bucket: "b",
    createMultipart: () => Promise.resolve("u1"),
    uploadPart: (_key: string, _id: string, partNumber: number) =>
      Promise.resolve({ partNumber, etag: `opaque-part-${partNumber}` }),
    completeMultipart: (_key: string, _id: string, parts: readonly CompletedPart[]) => {
      sent.push([...parts]);
      return Promise.resolve(completed === undefined ? undefined : { etag: completed });
    },
    abortMultipart: () => Promise.reject(new Error("not expected")),
  } as unknown as ObjectStore;
  return { store, sent };
}

async function bigFile(): Promise<{ path: string; size: number }> {
  const size = PART_SIZE + MiB;
  const path = join(await Deno.makeTempDir(), "big.bin");
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = i % 251;
  await Deno.writeFile(path, bytes);
  return { path, size };
}

Deno.test("uploadFile() in parts returns the ETag the server gave at completion", async () => {
  const { path, size } = await bigFile();
  const { store, sent } = fakeStore("0123456789abcdef0123456789abcdef-2");
  const uploads = StateStore.open(await Deno.makeTempDir()).forSite("s").uploads;
  // The stamp the job saw: only recorded here, as the book holds no upload to resume yet.
  const resume = { uploads, file: { size, mtimeMs: 1000, ctimeMs: 1000, ino: 1 }, site: "s" };
  const { etag } = await uploadFile(
    store,
    { key: "big.bin", path, size, storageClass: "STANDARD", resume },
    undefined,
  );
  assert.equal(etag, "0123456789abcdef0123456789abcdef-2");
  assert.deepEqual(sent, [[
    { partNumber: 1, etag: "opaque-part-1" },
    { partNumber: 2, etag: "opaque-part-2" },
  ]]);
  assert.equal(uploads.has("big.bin"), false, "a completed upload is forgotten");
});

Deno.test("uploadFile() in parts returns its own ETag when the server gives none (RGW)", async () => {
  const { path, size } = await bigFile();
  const digest = await hashFile(path, [PART_SIZE]);
  for (const answer of [undefined, ""]) {
    const { store } = fakeStore(answer);
    const { etag } = await uploadFile(store, {
      key: "big.bin",
      path,
      size,
      storageClass: "STANDARD",
    });
    assert.equal(etag, digest.etags.get(PART_SIZE));
  }
});
