/**
 * The S3 layer against the real server: every operation the engine uses, ETag maths included.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { createS3Store } from "../src/store/s3.ts";
import { S3Error } from "../src/store/s3_error.ts";
import { candidatePartSizes, MiB, parseEtag, PART_SIZE } from "../src/pipeline/etag.ts";
import { hashFile } from "../src/pipeline/hash.ts";
import { copyObject, sourceChanged } from "../src/pipeline/copy.ts";
import { uploadFile } from "../src/pipeline/transfer.ts";
import { DeleteBatcher } from "../src/pipeline/deletes.ts";
import type { ObjectStore } from "../src/store/types.ts";
import { bytes, listBucket, newBucket, siteConfig, tempDir, testS3, writeFile } from "./helpers.ts";
import { md5 } from "./mirror.ts";

async function storeFor(label: string) {
  const bucket = await newBucket(label);
  return { bucket, store: createS3Store(siteConfig({ localPath: "/unused", bucket }), 4) };
}

const md5b64 = (data: Uint8Array) => createHash("md5").update(data).digest("base64");
const collect = async (pages: AsyncIterable<{ key: string }[]>) => {
  const keys: string[] = [];
  for await (const page of pages) keys.push(...page.map((o) => o.key));
  return keys.sort();
};

Deno.test("S3Store puts, lists, heads and deletes objects", async () => {
  const { store } = await storeFor("basic");
  const body = new TextEncoder().encode("hello world");
  const { etag } = await store.put("dir/a.txt", body, md5b64(body), {
    storageClass: "STANDARD",
    contentType: "text/plain",
    metadata: { "s3sync-md5": md5(body) },
  });
  assert.equal(etag, md5(body));
  assert.deepEqual(await collect(store.list("dir/")), ["dir/a.txt"]);
  const info = await store.head("dir/a.txt");
  assert.equal(info?.size, body.length);
  assert.equal(info?.contentType, "text/plain");
  assert.equal(info?.metadata["s3sync-md5"], md5(body));
  assert.equal(await store.head("dir/missing.txt"), undefined);
  assert.deepEqual([...await store.deleteMany(["dir/a.txt"])], []);
  assert.deepEqual(await collect(store.list("")), []);
});

Deno.test("S3Store.list() pages through more than 1,000 keys and keeps prefixes exact", async () => {
  const { bucket, store } = await storeFor("paging");
  const keys = Array.from({ length: 1005 }, (_, i) => `data/k${String(i).padStart(4, "0")}`);
  const empty = new Uint8Array(0);
  const client = testS3().client;
  for (let i = 0; i < keys.length; i += 50) {
    await Promise.all(
      keys.slice(i, i + 50).map((key) =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: empty }))
      ),
    );
  }
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: "data2/other", Body: empty }));
  const listed = await collect(store.list("data/"));
  assert.equal(listed.length, 1005);
  assert.ok(!listed.includes("data2/other"));
});

Deno.test("S3Store round-trips keys with spaces, unicode, + % # and friends", async () => {
  const { bucket, store } = await storeFor("oddkeys");
  const keys = ["a b/c d.txt", "ünï/cødé ✓.txt", "plus+sign", "per%cent", "hash#tag", "q?&=~*.txt"];
  for (const key of keys) {
    const body = new TextEncoder().encode(key);
    await store.put(key, body, md5b64(body), {
      storageClass: "STANDARD",
      contentType: "text/plain",
    });
  }
  assert.deepEqual([...(await listBucket(bucket)).keys()].sort(), [...keys].sort());
  for (const key of keys) {
    const info = await store.head(key);
    assert.equal(info?.size, new TextEncoder().encode(key).length, key);
    // A self-copy needs the key escaped in CopySource.
    await store.copy(key, key, { storageClass: "STANDARD_IA" }, info?.etag ?? "");
  }
  for (const [key, object] of await listBucket(bucket)) {
    assert.equal(object.storageClass, "STANDARD_IA", key);
  }
  assert.deepEqual([...await store.deleteMany(keys)], []);
  assert.equal((await listBucket(bucket)).size, 0);
});

Deno.test("uploadFile() in parts gives the ETag hashFile() computes, and keeps STANDARD_IA", async () => {
  const { bucket, store } = await storeFor("multipart");
  const dir = await tempDir();
  const data = bytes(PART_SIZE * 2 + 12345, 7);
  await writeFile(dir, "big.bin", data);
  const { etag } = await uploadFile(store, {
    key: "big.bin",
    path: `${dir}/big.bin`,
    size: data.length,
    storageClass: "STANDARD_IA",
  });
  const listed = (await listBucket(bucket)).get("big.bin");
  assert.equal(listed?.etag, etag);
  assert.equal(listed?.storageClass, "STANDARD_IA");
  assert.deepEqual(parseEtag(etag), { kind: "multipart", parts: 3 });
  const digest = await hashFile(`${dir}/big.bin`, candidatePartSizes(data.length, 3));
  assert.ok([...digest.etags.values()].includes(etag));
  assert.equal(digest.md5, md5(data));
});

Deno.test("uploadFile() streams a single PUT whose ETag is the file's MD5", async () => {
  const { bucket, store } = await storeFor("single");
  const dir = await tempDir();
  const data = bytes(3 * MiB + 1, 3);
  await writeFile(dir, "photo.jpg", data);
  const { etag } = await uploadFile(store, {
    key: "p/photo.jpg",
    path: `${dir}/photo.jpg`,
    size: data.length,
    storageClass: "STANDARD",
  });
  assert.equal(etag, md5(data));
  assert.equal((await listBucket(bucket)).get("p/photo.jpg")?.etag, md5(data));
  assert.equal((await store.head("p/photo.jpg"))?.contentType, "image/jpeg");
});

Deno.test("copyObject() copies in place, in one request or in parts", async () => {
  const { bucket, store } = await storeFor("copy");
  const small = new TextEncoder().encode("small object");
  await store.put("small", small, md5b64(small), {
    storageClass: "STANDARD",
    contentType: "text/plain",
  });
  const smallEtag = md5(small);
  const copy = (source: string, key: string, size: number, storageClass: string, etag: string) => ({
    source,
    key,
    size,
    storageClass,
    ifMatch: etag,
  });
  await copyObject(store, copy("small", "small", small.length, "STANDARD_IA", smallEtag));
  const dir = await tempDir();
  const data = bytes(12 * MiB, 5);
  await writeFile(dir, "large", data);
  const uploaded = await uploadFile(store, {
    key: "large",
    path: `${dir}/large`,
    size: data.length,
    storageClass: "STANDARD",
  });
  // A 10 MiB copy limit forces the multipart copy that objects over 5 GiB need.
  const large = copy("large", "large", data.length, "STANDARD_IA", uploaded.etag);
  const { etag } = await copyObject(store, large, undefined, 10 * MiB);
  const listed = await listBucket(bucket);
  assert.equal(listed.get("small")?.storageClass, "STANDARD_IA");
  assert.equal(listed.get("large")?.storageClass, "STANDARD_IA");
  assert.equal(listed.get("large")?.etag, etag);
  assert.equal(listed.get("large")?.size, data.length);
  const digest = await hashFile(`${dir}/large`, candidatePartSizes(data.length, 2));
  assert.ok([...digest.etags.values()].includes(etag));
  assert.equal((await store.head("large"))?.contentType, "application/octet-stream");
  // And to another key, as a rename does, in parts too.
  const moved = copy("large", "moved/large", data.length, "STANDARD", etag);
  await copyObject(store, moved, undefined, 10 * MiB);
  await copyObject(store, copy("small", "moved/small", small.length, "STANDARD", smallEtag));
  const after = await listBucket(bucket);
  assert.equal(after.get("moved/large")?.etag, etag);
  assert.equal(after.get("moved/small")?.etag, listed.get("small")?.etag);
  assert.equal(after.get("moved/small")?.storageClass, "STANDARD");
});

Deno.test("a copy is pinned to its source's ETag: a changed source fails with 412, nothing copied", async () => {
  const { bucket, store } = await storeFor("pinned");
  const put = async (key: string, text: string) => {
    const body = new TextEncoder().encode(text);
    const options = { storageClass: "STANDARD", contentType: "text/plain" };
    return (await store.put(key, body, md5b64(body), options)).etag;
  };
  const old = await put("app.log", "old bytes");
  await put("app.log", "new bytes"); // rotated: the key now holds another file's bytes
  const request = { source: "app.log", key: "app.log.1", size: 9, storageClass: "STANDARD" };
  const err = await copyObject(store, { ...request, ifMatch: old }).catch((e) => e);
  assert.ok(err instanceof S3Error, String(err));
  assert.equal(err.status, 412); // RGW honours x-amz-copy-if-match on CopyObject
  // In place (a storage class change) and in parts, the same.
  const inPlace = { ...request, key: "app.log", storageClass: "STANDARD_IA", ifMatch: old };
  assert.equal((await copyObject(store, inPlace).catch((e) => e)).status, 412);
  const dir = await tempDir();
  const data = bytes(12 * MiB, 9);
  await writeFile(dir, "big", data);
  const big = { key: "big", path: `${dir}/big`, size: data.length, storageClass: "STANDARD" };
  await uploadFile(store, big);
  const parts = { source: "big", key: "big.1", size: data.length, storageClass: "STANDARD" };
  const partsErr = await copyObject(store, { ...parts, ifMatch: old }, undefined, 10 * MiB)
    .catch((e) => e);
  assert.ok(sourceChanged(partsErr), String(partsErr));
  const listed = await listBucket(bucket);
  assert.deepEqual([...listed.keys()].sort(), ["app.log", "big"]);
  assert.equal(listed.get("app.log")?.storageClass, "STANDARD");
  assert.equal(listed.get("app.log")?.etag, md5("new bytes"));
});

Deno.test("S3Store errors name the operation, key, bucket and site", async () => {
  const store = createS3Store(
    siteConfig({ localPath: "/unused", bucket: "no-such-bucket-s3sync" }),
    2,
  );
  const err = await store.put("k.txt", new Uint8Array(1), md5b64(new Uint8Array(1)), {
    storageClass: "STANDARD",
    contentType: "text/plain",
  }).catch((e) => e);
  assert.ok(err instanceof S3Error);
  assert.match(
    err.message,
    /^Cannot upload "k\.txt" in bucket "no-such-bucket-s3sync" \(site "no-such-bucket-s3sync"\): /,
  );
  assert.match(err.message, /NoSuchBucket/);
  assert.equal(err.status, 404);
});

Deno.test("S3Store with wrong keys fails with a clear error that holds no secret", async () => {
  const bucket = await newBucket("auth");
  const secret = "WRONG-secret-" +
    Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex");
  const store = createS3Store(
    siteConfig({
      localPath: "/unused",
      bucket,
      credentials: { accessKeyId: testS3().accessKey, secretAccessKey: secret },
    }),
    2,
  );
  const err = await (async () => {
    for await (const _ of store.list("")) { /* drain */ }
  })().catch((e) => e);
  assert.ok(err instanceof S3Error);
  assert.match(err.message, /SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId/);
  assert.ok(!err.message.includes(secret));
});

Deno.test("S3Store.put() is refused when the body does not match its MD5", async () => {
  const { bucket, store } = await storeFor("badmd5");
  const err = await store.put("x", new TextEncoder().encode("abc"), md5b64(new Uint8Array(3)), {
    storageClass: "STANDARD",
    contentType: "text/plain",
  }).catch((e) => e);
  assert.ok(err instanceof S3Error);
  assert.match(err.message, /BadDigest|InvalidDigest/);
  assert.equal((await listBucket(bucket)).size, 0);
});

Deno.test("S3Store.deleteMany() deletes odd keys in one request, and missing ones quietly", async () => {
  const { bucket, store } = await storeFor("deletemany");
  const keys = ["a&b.txt", "c<d>e.txt", `q"u'o.txt`, "dir/ünï ✓.txt", "plain"];
  for (const key of keys) {
    const body = new TextEncoder().encode(key);
    await store.put(key, body, md5b64(body), {
      storageClass: "STANDARD",
      contentType: "text/plain",
    });
  }
  await store.put("kept", new Uint8Array(1), md5b64(new Uint8Array(1)), {
    storageClass: "STANDARD",
    contentType: "text/plain",
  });
  const failed = await store.deleteMany([...keys, "never-existed"]);
  assert.deepEqual([...failed], []);
  assert.deepEqual([...(await listBucket(bucket)).keys()], ["kept"]);
});

/**
 * The bucket's keys as RGW stores them, read with the SDK directly. URL-encoded, because a key
 * with U+0001 cannot be written in XML 1.0 otherwise; RGW encodes a space as %20 and "+" as %2B,
 * so decodeURIComponent reads it back exactly.
 */
async function storedKeys(bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await testS3().client.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token, EncodingType: "url" }),
    );
    assert.equal(page.EncodingType, "url");
    keys.push(...(page.Contents ?? []).map((item) => decodeURIComponent(item.Key ?? "")));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** Keys that an XML parser would change or refuse, next to ordinary ones. */
const XML_KEYS = [
  "Icon\r",
  "Icon\n",
  "Icon\r\n",
  "tab\there",
  "ctl\u0001x",
  "sp ace+plus",
  "dir/b c/pct%41",
  "dir/plain.txt",
  "plain",
];

async function putAll(store: ObjectStore, keys: readonly string[]): Promise<void> {
  for (const key of keys) {
    const body = new TextEncoder().encode(key);
    await store.put(key, body, md5b64(body), {
      storageClass: "STANDARD",
      contentType: "text/plain",
    });
  }
}

Deno.test("S3Store.list() returns keys with CR, LF, TAB and U+0001 byte for byte", async () => {
  const { bucket, store } = await storeFor("xmllist");
  await putAll(store, XML_KEYS);
  const sorted = [...XML_KEYS].sort();
  assert.deepEqual(await storedKeys(bucket), sorted);
  assert.deepEqual(await collect(store.list("")), sorted);
  assert.deepEqual(await collect(store.list("dir/")), ["dir/b c/pct%41", "dir/plain.txt"]);
  assert.deepEqual(await collect(store.list("Icon\r")), ["Icon\r", "Icon\r\n"]);
});

Deno.test("S3Store.deleteMany() of Icon\\r deletes Icon\\r and leaves Icon\\n", async () => {
  const { bucket, store } = await storeFor("xmlcr");
  await putAll(store, XML_KEYS);
  assert.deepEqual([...await store.deleteMany(["Icon\r"])], []);
  const left = XML_KEYS.filter((key) => key !== "Icon\r").sort();
  assert.deepEqual(await storedKeys(bucket), left);
  assert.deepEqual([...await store.deleteMany(["Icon\r\n", "tab\there", "sp ace+plus"])], []);
  assert.deepEqual(
    await storedKeys(bucket),
    ["Icon\n", "ctl\u0001x", "dir/b c/pct%41", "dir/plain.txt", "plain"],
  );
});

Deno.test("DeleteBatcher deletes a batch holding keys XML cannot carry, every key of it", async () => {
  const { bucket, store } = await storeFor("xmlbatch");
  const odd = ["ctl\u0001x", "form\u000cfeed", "nc\uFFFF"];
  await putAll(store, [...XML_KEYS, ...odd]);
  const batcher = new DeleteBatcher(store, "site");
  const gone = [...XML_KEYS.filter((key) => key !== "Icon\n"), ...odd, "never-existed\u0001"];
  await Promise.all(gone.map((key) => batcher.delete(key)));
  assert.deepEqual(await storedKeys(bucket), ["Icon\n"]);
});

Deno.test("S3Store.deleteOne() counts a missing key, and a 404, as deleted", async () => {
  const { bucket, store } = await storeFor("deleteone");
  await putAll(store, ["ctl\u0001x", "kept"]);
  await store.deleteOne("ctl\u0001x");
  await store.deleteOne("ctl\u0001x");
  assert.deepEqual(await storedKeys(bucket), ["kept"]);
  const gone = createS3Store(siteConfig({ localPath: "/unused", bucket: `${bucket}-gone` }), 2);
  await gone.deleteOne("ctl\u0001x"); // NoSuchBucket: the key is not there either
});

Deno.test("deletes that fail report the exact key each caller asked for", async () => {
  const { bucket, store } = await storeFor("xmldenied");
  await putAll(store, ["deny\r", "deny\n", "deny&<x>", "deny\u0001", "ok\r", "ok"]);
  // A bucket policy makes RGW answer AccessDenied for these keys only.
  const policy = {
    Version: "2012-10-17",
    Statement: [{
      Effect: "Deny",
      Principal: "*",
      Action: "s3:DeleteObject",
      Resource: `arn:aws:s3:::${bucket}/deny*`,
    }],
  };
  await testS3().client.send(
    new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }),
  );
  const failed = await store.deleteMany(["deny\r", "deny&<x>", "ok\r"]);
  assert.deepEqual([...failed.keys()].sort(), ["deny&<x>", "deny\r"].sort());
  assert.match(failed.get("deny\r") ?? "", /AccessDenied/);
  const batcher = new DeleteBatcher(store, "site");
  const results = await Promise.allSettled(
    ["deny\n", "deny\u0001", "ok"].map((key) => batcher.delete(key)),
  );
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected", "fulfilled"]);
  for (const result of results.slice(0, 2)) {
    const reason = (result as PromiseRejectedResult).reason;
    assert.ok(reason instanceof S3Error, String(reason));
    assert.match(reason.message, /AccessDenied/);
  }
  assert.deepEqual(await storedKeys(bucket), ["deny\n", "deny\r", "deny&<x>", "deny\u0001"].sort());
});

Deno.test("S3Store.listMultipartUploads() returns odd keys exactly, across a page break", async () => {
  const { bucket, store } = await storeFor("xmluploads");
  const client = testS3().client;
  const start = (key: string) =>
    client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const odd = ["Icon\r", "Icon\n", "tab\there", "ctl\u0001x", "sp ace+plus", "dir/b c/pct%41"];
  // 995 keys that sort between "Icon\r" and "ctl": the two uploads of "sp ace+plus" are then the
  // 1,000th and 1,001st, so the next page starts from a marker with a space and a "+".
  const many = Array.from({ length: 995 }, (_, i) => `a/k${String(i).padStart(4, "0")}`);
  for (let i = 0; i < many.length; i += 100) await Promise.all(many.slice(i, i + 100).map(start));
  for (const key of [...odd, "sp ace+plus"]) await start(key);
  const first = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  assert.equal(first.Uploads?.length, 1000);
  assert.equal(first.Uploads?.at(-1)?.Key, "sp ace+plus");
  const listed = await store.listMultipartUploads("");
  assert.equal(new Set(listed.map((upload) => upload.uploadId)).size, many.length + odd.length + 1);
  assert.deepEqual(listed.map((upload) => upload.key), [...many, ...odd, "sp ace+plus"].sort());
  const under = await store.listMultipartUploads("Icon\r");
  assert.deepEqual(under.map((upload) => upload.key), ["Icon\r"]);
});
