/**
 * The S3 layer against the real server: every operation the engine uses, ETag maths included.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { createS3Store, S3Error } from "../src/store/s3.ts";
import { candidatePartSizes, MiB, parseEtag, PART_SIZE } from "../src/pipeline/etag.ts";
import { hashFile } from "../src/pipeline/hash.ts";
import { copyObject, sourceChanged, uploadFile } from "../src/pipeline/transfer.ts";
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
    await store.copy(key, key, "STANDARD_IA", info?.etag ?? "");
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
