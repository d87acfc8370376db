/**
 * The metadata every upload carries, read back from the real server with HEAD: `s3sync-md5`,
 * rclone's `md5chksum`, and rclone's `mtime` (the file's, to the millisecond Deno's stat gives),
 * on single PUTs and on multipart uploads the checksum stage never hashed; when a touched file's
 * date reaches the bucket (at its next upload, never on its own); and the guard that keeps a
 * multipart upload's metadata from describing other bytes than its parts.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { HeadObjectCommand, type HeadObjectCommandOutput } from "@aws-sdk/client-s3";
import { setLogLevel } from "../src/lib/log.ts";
import { MiB, PART_SIZE } from "../src/pipeline/etag.ts";
import { copyObject } from "../src/pipeline/copy.ts";
import { type FileDigest, hashFile } from "../src/pipeline/hash.ts";
import { FileChangedError } from "../src/pipeline/file_reads.ts";
import { uploadFile } from "../src/pipeline/transfer.ts";
import { createS3Store } from "../src/store/s3.ts";
import {
  bytes,
  listBucket,
  newBucket,
  pendingUploads,
  runDaemon,
  siteConfig,
  tempDir,
  testS3,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { md5 } from "./mirror.ts";
import { expectedEtag } from "./parts.ts";

setLogLevel("error");

async function head(bucket: string, key: string): Promise<HeadObjectCommandOutput> {
  return await testS3().client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
}

const base64Md5 = (data: Uint8Array | string) => Buffer.from(md5(data), "hex").toString("base64");

/** Runs the daemon once; returns how many files it uploaded. */
async function once(config: string): Promise<number> {
  const run = await runDaemon(["--config", config, "--once"]);
  assert.equal(run.code, 0, run.stderr);
  const uploaded = /uploaded (\d+) \(/.exec(run.stdout);
  assert.ok(uploaded, `no summary in output:\n${run.stdout}`);
  return Number(uploaded[1]);
}

Deno.test("--once labels every object with its MD5 and its file's mtime, multipart ones unhashed too", async () => {
  const root = await tempDir();
  const bucket = await newBucket("meta");
  const big = bytes(PART_SIZE + 3 * MiB, 41);
  await writeFile(root, "big.bin", big);
  await writeFile(root, "small.txt", "small");
  await Deno.utime(`${root}/big.bin`, new Date(), new Date(1_500_000_000_123));
  await Deno.utime(`${root}/small.txt`, new Date(), new Date(1_400_000_000_500));
  const config = await writeConfig(await tempDir(), [{ local_path: root, bucket }]);

  // Neither file is in the bucket: the checksum stage hashes neither, so the multipart upload
  // hashes its file before it creates the upload.
  assert.equal(await once(config), 2);
  const bigHead = await head(bucket, "big.bin");
  assert.equal(bigHead.ETag?.replaceAll('"', ""), expectedEtag(big, PART_SIZE));
  assert.deepEqual(bigHead.Metadata, {
    "s3sync-md5": md5(big),
    "md5chksum": base64Md5(big),
    "mtime": "1500000000.123",
  });
  assert.deepEqual((await head(bucket, "small.txt")).Metadata, {
    "s3sync-md5": md5("small"),
    "md5chksum": base64Md5("small"),
    "mtime": "1400000000.5",
  });

  // A new date alone sends nothing: the object keeps the date of its last upload.
  await Deno.utime(`${root}/small.txt`, new Date(), new Date(1_450_000_000_000));
  assert.equal(await once(config), 0);
  assert.equal((await head(bucket, "small.txt")).Metadata?.mtime, "1400000000.5");
  // New content is uploaded, and brings its date.
  await writeFile(root, "small.txt", "SMALL");
  await Deno.utime(`${root}/small.txt`, new Date(), new Date(1_460_000_000_007));
  assert.equal(await once(config), 1);
  assert.equal((await head(bucket, "small.txt")).Metadata?.mtime, "1460000000.007");
});

Deno.test("store_mtime: false sends no mtime, and still both MD5s", async () => {
  const root = await tempDir();
  const bucket = await newBucket("meta-off");
  const big = bytes(PART_SIZE + MiB, 42);
  await writeFile(root, "big.bin", big);
  await writeFile(root, "small.txt", "small");
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    store_mtime: false,
  }]);
  assert.equal(await once(config), 2);
  assert.deepEqual((await head(bucket, "big.bin")).Metadata, {
    "s3sync-md5": md5(big),
    "md5chksum": base64Md5(big),
  });
  assert.deepEqual(Object.keys((await head(bucket, "small.txt")).Metadata ?? {}).sort(), [
    "md5chksum",
    "s3sync-md5",
  ]);
});

Deno.test("uploadFile() hashes an unhashed multipart file once, and sends nothing that the hash or the date would not describe", async () => {
  const bucket = await newBucket("meta-guard");
  const root = await tempDir();
  const path = `${root}/big.bin`;
  const data = bytes(2 * PART_SIZE + 5, 43);
  await Deno.writeFile(path, data);
  const store = createS3Store(siteConfig({ localPath: root, bucket }), 8);
  const request = { key: "big.bin", path, size: data.length, storageClass: "STANDARD" };
  const asked: number[][] = [];
  const honest = {
    hash: (p: string, partSizes: readonly number[], signal?: AbortSignal, size?: number) => {
      asked.push([...partSizes]);
      return hashFile(p, partSizes, signal, size);
    },
  };
  const { etag } = await uploadFile(store, { ...request, hasher: honest, storeMtime: true });
  assert.equal(etag, expectedEtag(data, PART_SIZE));
  assert.deepEqual(asked, [[PART_SIZE]], "one hash, with our part size");
  assert.equal((await head(bucket, "big.bin")).Metadata?.["s3sync-md5"], md5(data));

  // What a rewrite between the hash and the parts' reads would give, with the stamp unchanged
  // (same size, mtime put back within the second Deno's ctime shows): a hash of other bytes.
  const other = bytes(data.length, 44);
  const stale = {
    hash: (): Promise<FileDigest> =>
      Promise.resolve({
        size: other.length,
        md5: md5(other),
        etags: new Map([[PART_SIZE, expectedEtag(other, PART_SIZE)]]),
      }),
  };
  await assert.rejects(
    uploadFile(store, { ...request, key: "stale.bin", hasher: stale }),
    FileChangedError,
  );
  assert.equal((await listBucket(bucket)).has("stale.bin"), false, "no object with a lying label");
  assert.deepEqual(await pendingUploads(bucket), [], "the upload is aborted");

  // A file touched while it was hashed: the date sent would not be that of the bytes read.
  const touching = {
    hash: async (p: string, partSizes: readonly number[], signal?: AbortSignal, size?: number) => {
      const digest = await hashFile(p, partSizes, signal, size);
      await Deno.utime(p, new Date(), new Date(1_000_000_000_000));
      return digest;
    },
  };
  await assert.rejects(
    uploadFile(store, { ...request, key: "touched.bin", hasher: touching, storeMtime: true }),
    FileChangedError,
  );
  assert.equal((await listBucket(bucket)).has("touched.bin"), false, "nothing sent");
  assert.deepEqual(await pendingUploads(bucket), []);
});

Deno.test("copyObject() keeps both MD5s and the mtime, in one CopyObject and in a multipart copy", async () => {
  const bucket = await newBucket("meta-copy");
  const root = await tempDir();
  const path = `${root}/big.bin`;
  const data = bytes(PART_SIZE + 4 * MiB, 45);
  await Deno.writeFile(path, data);
  await Deno.utime(path, new Date(), new Date(1_550_000_000_042));
  const store = createS3Store(siteConfig({ localPath: root, bucket }), 4);
  try {
    const request = { key: "big.bin", path, size: data.length, storageClass: "STANDARD" };
    const { etag } = await uploadFile(store, { ...request, storeMtime: true });
    const expected = {
      "s3sync-md5": md5(data),
      "md5chksum": base64Md5(data),
      "mtime": "1550000000.042",
    };
    assert.deepEqual((await head(bucket, "big.bin")).Metadata, expected);
    const copy = { source: "big.bin", size: data.length, storageClass: "STANDARD", ifMatch: etag };
    await copyObject(store, { ...copy, key: "whole.bin" });
    // A 10 MiB copy limit forces the multipart copy, which must carry the metadata over itself.
    await copyObject(store, { ...copy, key: "parts.bin" }, undefined, 10 * MiB);
    assert.deepEqual((await head(bucket, "whole.bin")).Metadata, expected);
    assert.deepEqual((await head(bucket, "parts.bin")).Metadata, expected);
  } finally {
    store.close?.();
  }
});
