import assert from "node:assert/strict";
import { CustomerKeyRefused } from "../store/sse.ts";
import type { Encryption } from "../config/types.ts";
import type { ObjectInfo } from "../store/types.ts";
import { compareContent, type Comparer } from "./compare.ts";

const FILE_MD5 = "5d41402abc4b2a76b9719d911017c592";
const OTHER_MD5 = "7d793037a0760186574b0282f2f435e7";
/** What AWS lists for an SSE-KMS object of those bytes: 32 hex digits, not their MD5. */
const OPAQUE = "0f343b0931126a20f133d67c2b018a3b";

const KMS: Encryption = { kind: "sse", algorithm: "aws:kms" };

/**
 * A file of 5 bytes with MD5 FILE_MD5, and an object whose HEAD answers `info`; HEADs counted. The
 * site writes SSE-KMS objects unless told otherwise.
 */
function comparer(
  info: Partial<ObjectInfo> | Error | undefined,
  config: { encryption?: Encryption } = { encryption: KMS },
) {
  const seen = { heads: 0 };
  const fake: Comparer = {
    config,
    hash: () => Promise.resolve({ size: 5, md5: FILE_MD5, etags: new Map() }),
    store: {
      head: (key) => {
        seen.heads++;
        if (info instanceof Error) return Promise.reject(info);
        if (!info) return Promise.resolve(undefined);
        const base = { key, size: 5, etag: OPAQUE, storageClass: "STANDARD" };
        return Promise.resolve({ ...base, contentType: undefined, metadata: {}, ...info });
      },
    },
  };
  return { fake, seen };
}

const object = (etag: string) => ({ key: "k", size: 5, etag, storageClass: "STANDARD" });

async function verdict(
  etag: string,
  info: Partial<ObjectInfo> | Error | undefined,
  config: { encryption?: Encryption } = { encryption: KMS },
) {
  const { fake, seen } = comparer(info, config);
  const check = await compareContent(fake, "/unused", object(etag));
  return [check.verdict, seen.heads];
}

Deno.test("compareContent() takes an ETag equal to the file's MD5 as proof, with no HEAD", async () => {
  assert.deepEqual(await verdict(FILE_MD5, {}), ["same", 0]);
});

Deno.test("compareContent() reads s3sync-md5 for an ETag that does not match: SSE-KMS, SSE-C", async () => {
  const labelled = (md5: string, encryption = "aws:kms") => ({
    metadata: { "s3sync-md5": md5 },
    encryption,
  });
  assert.deepEqual(await verdict(OPAQUE, labelled(FILE_MD5)), ["same", 1]);
  assert.deepEqual(await verdict(OPAQUE, labelled(FILE_MD5, "SSE-C")), ["same", 1]);
  assert.deepEqual(await verdict(OPAQUE, labelled(OTHER_MD5)), ["different", 1]);
  // Without the label: an SSE-KMS or SSE-C ETag proves nothing either way.
  assert.deepEqual(await verdict(OPAQUE, { encryption: "aws:kms" }), ["unknown", 1]);
  assert.deepEqual(await verdict(OPAQUE, { encryption: "aws:kms:dsse" }), ["unknown", 1]);
  assert.deepEqual(await verdict(OPAQUE, { encryption: "SSE-C" }), ["unknown", 1]);
  // An object that is not (one written before `sse` was set): its plain ETag is its MD5.
  assert.deepEqual(await verdict(OTHER_MD5, { etag: OTHER_MD5 }), ["different", 1]);
  assert.deepEqual(await verdict(OTHER_MD5, { etag: OTHER_MD5, encryption: "AES256" }), [
    "different",
    1,
  ]);
});

Deno.test("compareContent() takes an MD5-shaped mismatch as a difference where the site writes no KMS or SSE-C objects", async () => {
  assert.deepEqual(await verdict(OTHER_MD5, {}, {}), ["different", 0]);
  assert.deepEqual(
    await verdict(OTHER_MD5, {}, { encryption: { kind: "sse", algorithm: "AES256" } }),
    [
      "different",
      0,
    ],
  );
  // A multipart ETag of a part size we do not know is still asked about.
  assert.deepEqual(await verdict(`${OTHER_MD5}-3`, { etag: `${OTHER_MD5}-3` }, {}), [
    "unknown",
    1,
  ]);
});

Deno.test("compareContent() counts an object the SSE-C key cannot open as unproven, not missing", async () => {
  const refused = new CustomerKeyRefused("the object's SSE-C key is not ours", 403);
  assert.deepEqual(await verdict(OPAQUE, refused), ["unknown", 1]);
  assert.deepEqual(await verdict(OPAQUE, undefined), ["different", 1]);
  // Any other failure is not an answer.
  await assert.rejects(
    compareContent(comparer(new Error("connection reset")).fake, "/unused", object(OPAQUE)),
    /connection reset/,
  );
  // A HEAD that sees a newer object than the listing did says nothing about the listed one.
  assert.deepEqual(await verdict(OPAQUE, { etag: OTHER_MD5 }), ["unknown", 1]);
});
