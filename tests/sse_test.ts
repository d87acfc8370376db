/**
 * Server-side encryption end to end against RGW, which runs SSE-KMS (its `testing` backend, key
 * `s3sync-test-key`) and SSE-C. Objects are read back with the SDK: their encryption as HEAD shows
 * it, their bytes with and without the SSE-C key. RGW gives SSE-KMS and SSE-C objects plain MD5
 * ETags, unlike AWS; the path AWS takes (ETags that are not MD5s) is run with a store that hides
 * RGW's ETags behind opaque ones, in this process. Which headers go on which request, and
 * `AES256`/`aws:kms:dsse` that RGW does not implement here, are in src/store/sse_test.ts.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import {
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { loadConfig } from "../src/config/load.ts";
import { Generation } from "../src/generation.ts";
import { setLogLevel } from "../src/lib/log.ts";
import { MiB, PART_SIZE } from "../src/pipeline/etag.ts";
import { createS3Store } from "../src/store/s3.ts";
import type { ObjectStore } from "../src/store/types.ts";
import {
  bytes,
  newBucket,
  pastTimestampGranule,
  runDaemon,
  tempDir,
  testS3,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { md5 } from "./mirror.ts";
import { makeTestCa, TlsFront } from "./tls_front.ts";

setLogLevel("error");

const KMS_KEY = "s3sync-test-key";
const BIG = PART_SIZE + 3 * MiB;

/** Each object's ETag and LastModified: what a second upload would change. */
async function snapshot(bucket: string): Promise<Map<string, string>> {
  const out = await testS3().client.send(new ListObjectsV2Command({ Bucket: bucket }));
  return new Map(
    (out.Contents ?? []).map((o) => [o.Key!, `${o.ETag} ${o.LastModified?.toISOString()}`]),
  );
}

async function once(config: string, env: Record<string, string> = {}): Promise<string> {
  const result = await runDaemon(["--config", config, "--once"], { env });
  const output = result.stdout + result.stderr;
  assert.equal(result.code, 0, output);
  return output;
}

async function head(bucket: string, key: string, sseKey?: Uint8Array) {
  return await testS3().client.send(
    new HeadObjectCommand({ Bucket: bucket, Key: key, ...customer(sseKey) }),
  );
}

const customer = (sseKey: Uint8Array | undefined) =>
  sseKey
    ? { SSECustomerAlgorithm: "AES256", SSECustomerKey: Buffer.from(sseKey).toString("base64") }
    : {};

/** The object's bytes, read with `sseKey`; the HTTP status when the server refuses. */
async function read(bucket: string, key: string, sseKey?: Uint8Array): Promise<string | number> {
  try {
    const out = await testS3().client.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, ...customer(sseKey) }),
    );
    return md5(await out.Body!.transformToByteArray());
  } catch (err) {
    return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? -1;
  }
}

const kmsOf = (out: HeadObjectCommandOutput) => [out.ServerSideEncryption, out.SSEKMSKeyId];

Deno.test("--once with sse: aws:kms encrypts single and multipart uploads; a restart uploads nothing", async () => {
  const root = await tempDir();
  const bucket = await newBucket("sse-kms");
  const plain = await newBucket("sse-none");
  await writeFile(root, "small.txt", "small file");
  await writeFile(root, "big.bin", bytes(BIG, 31));
  const dir = await tempDir();
  const config = await writeConfig(dir, [
    { local_path: root, bucket },
    // A site's own sse wins over the global one.
    { local_path: root, bucket: plain, sse: "none" },
  ], { sse: "aws:kms", sse_kms_key_id: KMS_KEY });
  assert.match(await once(config), /uploaded 4 /);
  for (const key of ["small.txt", "big.bin"]) {
    assert.deepEqual(kmsOf(await head(bucket, key)), ["aws:kms", KMS_KEY], key);
    assert.deepEqual(kmsOf(await head(plain, key)), [undefined, undefined], key);
  }
  assert.equal(await read(bucket, "big.bin"), md5(bytes(BIG, 31)));
  const written = await snapshot(bucket);

  assert.match(await once(config), /uploaded 0 \(0 bytes\)/);
  // Without the state store: every file is proven again, by its ETag (RGW's are MD5s).
  await Deno.remove(`${dir}/state`, { recursive: true });
  assert.match(await once(config), /uploaded 0 \(0 bytes\)/);
  assert.deepEqual(await snapshot(bucket), written);
});

Deno.test("sse: aws:kms rewrites nothing already there; a rename RGW cannot copy is uploaded", async () => {
  const root = await tempDir();
  const bucket = await newBucket("sse-kms-copy");
  // Written before `sse` was set, with the file's bytes: proven by its ETag, and left as it is.
  await testS3().client.send(
    new PutObjectCommand({ Bucket: bucket, Key: "kept.txt", Body: "kept" }),
  );
  await writeFile(root, "kept.txt", "kept");
  await writeFile(root, "a.txt", "renamed later");
  const site = { local_path: root, bucket, retire_deleted: true };
  const config = await writeConfig(await tempDir(), [site], {
    sse: "aws:kms",
    sse_kms_key_id: KMS_KEY,
  });
  assert.match(await once(config), /uploaded 1 \(13 bytes\), copied 0, deleted 0/);
  assert.deepEqual(kmsOf(await head(bucket, "a.txt")), ["aws:kms", KMS_KEY]);
  assert.deepEqual(kmsOf(await head(bucket, "kept.txt")), [undefined, undefined]);

  // RGW answers 501 NotImplemented to a copy of an SSE-KMS object (and ignores the encryption
  // asked for on a copy of a plain one): the renamed file is uploaded instead, encrypted, and the
  // old key deleted. On AWS it is a copy; the headers it carries are in src/store/sse_test.ts.
  await pastTimestampGranule(`${root}/a.txt`);
  await Deno.rename(`${root}/a.txt`, `${root}/b.txt`);
  assert.match(await once(config), /uploaded 1 \(13 bytes\), copied 0, deleted 1/);
  assert.deepEqual(kmsOf(await head(bucket, "b.txt")), ["aws:kms", KMS_KEY]);
  assert.equal(await read(bucket, "b.txt"), md5(new TextEncoder().encode("renamed later")));
  assert.deepEqual([...(await snapshot(bucket)).keys()].sort(), ["b.txt", "kept.txt"]);
});

Deno.test("SSE-C through TLS: objects open only with the key, a rename, a restart uploads nothing", async () => {
  const ca = await makeTestCa(await tempDir());
  const front = await TlsFront.start(new URL(testS3().endpoint), ca);
  try {
    const root = await tempDir();
    const bucket = await newBucket("sse-c-tls");
    const sseKey = bytes(32, 41);
    const keyPath = `${await tempDir()}/sse.key`;
    await Deno.writeFile(keyPath, sseKey);
    await writeFile(root, "a.txt", "secret a");
    await writeFile(root, "big.bin", bytes(BIG, 42));
    const site = {
      local_path: root,
      bucket,
      endpoint: front.endpoint,
      ca_bundle: ca.caPath,
      sse_c_key_file: keyPath,
      retire_deleted: true,
    };
    const config = await writeConfig(await tempDir(), [site]);
    const first = await once(config);
    assert.match(first, /uploaded 2 /);
    // The log shows which key is in use by its MD5 (as S3 does), never the key.
    const keyMd5 = createHash("md5").update(sseKey).digest("base64");
    assert.ok(first.includes(`sse=SSE-C key_md5=${JSON.stringify(keyMd5)}`), first);
    assert.ok(!first.includes(Buffer.from(sseKey).toString("base64")));
    assert.ok(front.forwarded > 0, "nothing went through the TLS front");
    const info = await head(bucket, "big.bin", sseKey);
    assert.equal(info.SSECustomerAlgorithm, "AES256");
    assert.equal(info.SSECustomerKeyMD5, keyMd5);
    assert.equal(await read(bucket, "a.txt", sseKey), md5(new TextEncoder().encode("secret a")));
    assert.equal(await read(bucket, "big.bin", sseKey), md5(bytes(BIG, 42)));
    assert.equal(await read(bucket, "a.txt"), 400, "read without the key");
    assert.equal(await read(bucket, "a.txt", bytes(32, 43)), 400, "read with another key");
    const written = await snapshot(bucket);
    assert.match(await once(config), /uploaded 0 \(0 bytes\), copied 0/);
    assert.deepEqual(await snapshot(bucket), written);

    // RGW copies no SSE-C object (501 NotImplemented): a rename is uploaded instead, and the old
    // key deleted. What CopyObject would carry is in src/store/sse_test.ts.
    await Deno.rename(`${root}/a.txt`, `${root}/b.txt`);
    assert.match(await once(config), /uploaded 1 \(8 bytes\), copied 0, deleted 1/);
    assert.equal(await read(bucket, "b.txt", sseKey), md5(new TextEncoder().encode("secret a")));
  } finally {
    await front.close();
  }
});

Deno.test("SSE-C on an http:// endpoint stops the start with exit 2 unless sse_c_allow_http", async () => {
  const root = await tempDir();
  const bucket = await newBucket("sse-c-http");
  await writeFile(root, "a.txt", "a");
  const key = Buffer.from(bytes(32, 51)).toString("base64");
  const site = { local_path: root, bucket, sse_c_key_env: "S3SYNC_TEST_SSE_KEY" };
  const refused = await runDaemon(
    ["--config", await writeConfig(await tempDir(), [site]), "--once"],
    { env: { S3SYNC_TEST_SSE_KEY: key } },
  );
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    /sites\[0\]\.endpoint: must be https with an SSE-C key, which every request carries, got "http:\/\/127\.0\.0\.1:\d+" \(set sse_c_allow_http: true/,
  );
  assert.ok(!(refused.stdout + refused.stderr).includes(key));
  assert.deepEqual(await snapshot(bucket), new Map());

  const allowed = await writeConfig(await tempDir(), [{ ...site, sse_c_allow_http: true }]);
  assert.match(await once(allowed, { S3SYNC_TEST_SSE_KEY: key }), /uploaded 1 /);
  assert.equal(await read(bucket, "a.txt", bytes(32, 51)), md5(new TextEncoder().encode("a")));
});

/**
 * The ETags AWS gives SSE-KMS and SSE-C objects: not the MD5 of the bytes, though they look like
 * one. Every ETag the engine sees (listing, HEAD, PUT) is replaced by an MD5 of RGW's; HEADs and
 * uploads are counted. Only objects up to PART_SIZE: RGW's CompleteMultipartUpload gives no ETag
 * to hide, so a multipart upload's would be the real one.
 */
class OpaqueEtags {
  heads = 0;
  puts = 0;

  wrap(store: ObjectStore): ObjectStore {
    const opaque = (etag: string) =>
      etag && createHash("md5").update(`not an md5: ${etag}`).digest("hex");
    const hooks: Partial<ObjectStore> = {
      listPage: async (prefix, options, signal) => {
        const page = await store.listPage(prefix, options, signal);
        return { ...page, objects: page.objects.map((o) => ({ ...o, etag: opaque(o.etag) })) };
      },
      head: async (key, signal) => {
        this.heads++;
        const info = await store.head(key, signal);
        return info && { ...info, etag: opaque(info.etag) };
      },
      put: async (key, body, md5Base64, options, signal) => {
        this.puts++;
        const { etag } = await store.put(key, body, md5Base64, options, signal);
        return { etag: opaque(etag) };
      },
    };
    return new Proxy(store, {
      get(target, name) {
        const hook = hooks[name as keyof ObjectStore];
        if (hook) return hook;
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
}

/** One --once pass in this process, through `etags`; returns what it uploaded. */
async function opaqueOnce(
  config: string,
  etags: OpaqueEtags,
  env: Record<string, string> = {},
): Promise<number> {
  const loaded = await loadConfig(config, env, 2);
  const generation = new Generation(loaded.config, {
    once: true,
    dryRun: false,
    createStore: (...args) => etags.wrap(createS3Store(...args)),
  });
  await generation.run();
  const summary = generation.summary();
  assert.equal(summary.errors, 0);
  return summary.uploaded;
}

Deno.test("ETags that are not MD5s: s3sync-md5 proves content once, the state store after, with no HEAD", async () => {
  const root = await tempDir();
  const bucket = await newBucket("sse-opaque");
  for (let i = 0; i < 5; i++) await writeFile(root, `f${i}.bin`, bytes(1000 + i, i));
  // A row taken within a second of its file's last change is not trusted (README).
  await pastTimestampGranule(`${root}/f4.bin`);
  const dir = await tempDir();
  const config = await writeConfig(dir, [{ local_path: root, bucket }], {
    sse: "aws:kms",
    sse_kms_key_id: KMS_KEY,
  });
  const first = new OpaqueEtags();
  assert.equal(await opaqueOnce(config, first), 5);

  // The state store's rows certify (stamp, ETag): no request per file.
  const second = new OpaqueEtags();
  assert.equal(await opaqueOnce(config, second), 0);
  assert.deepEqual([second.heads, second.puts], [0, 0]);

  // Without it: one HEAD per file reads s3sync-md5, and the rows are written again.
  await Deno.remove(`${dir}/state`, { recursive: true });
  const third = new OpaqueEtags();
  assert.equal(await opaqueOnce(config, third), 0);
  assert.deepEqual([third.heads, third.puts], [5, 0]);
  const fourth = new OpaqueEtags();
  assert.equal(await opaqueOnce(config, fourth), 0);
  assert.deepEqual([fourth.heads, fourth.puts], [0, 0]);

  // A changed file of the same size: its s3sync-md5 differs, and only it is uploaded.
  await writeFile(root, "f2.bin", bytes(1002, 99));
  const fifth = new OpaqueEtags();
  assert.equal(await opaqueOnce(config, fifth), 1);
  assert.equal(await read(bucket, "f2.bin"), md5(bytes(1002, 99)));
});

Deno.test("a changed SSE-C key: objects stay under the old key until a proof needs a HEAD, then are written under the new one", async () => {
  const root = await tempDir();
  const bucket = await newBucket("sse-c-rekey");
  await writeFile(root, "a.txt", "under the old key");
  await pastTimestampGranule(`${root}/a.txt`);
  const oldKey = bytes(32, 61);
  const newKey = bytes(32, 62);
  const env = (key: Uint8Array) => ({ SSE_KEY: Buffer.from(key).toString("base64") });
  const dir = await tempDir();
  const site = { local_path: root, bucket, sse_c_key_env: "SSE_KEY", sse_c_allow_http: true };
  const config = await writeConfig(dir, [site]);
  assert.equal(await opaqueOnce(config, new OpaqueEtags(), env(oldKey)), 1);
  const data = md5(new TextEncoder().encode("under the old key"));
  assert.equal(await read(bucket, "a.txt", oldKey), data);

  // The state store's row still certifies the file: nothing is read, nothing written.
  const kept = new OpaqueEtags();
  assert.equal(await opaqueOnce(config, kept, env(newKey)), 0);
  assert.equal(kept.heads, 0);
  assert.equal(await read(bucket, "a.txt", oldKey), data);

  // Without the row the object must be read, and the new key cannot: it is uploaded again, once.
  await Deno.remove(`${dir}/state`, { recursive: true });
  const rekeyed = new OpaqueEtags();
  assert.equal(await opaqueOnce(config, rekeyed, env(newKey)), 1);
  assert.equal(await read(bucket, "a.txt", newKey), data);
  assert.equal(await read(bucket, "a.txt", oldKey), 400);
  await Deno.remove(`${dir}/state`, { recursive: true });
  const after = new OpaqueEtags();
  assert.equal(await opaqueOnce(config, after, env(newKey)), 0);
  assert.deepEqual([after.heads, after.puts], [1, 0]);
});
