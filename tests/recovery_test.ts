/**
 * Nothing lost: files that change or vanish mid-upload, a bucket that is unreachable at start, and
 * the periodic reconcile that heals what the watcher could not see.
 */

import assert from "node:assert/strict";
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
} from "@aws-sdk/client-s3";
import { MiB } from "../src/pipeline/etag.ts";
import {
  bytes,
  Daemon,
  listBucket,
  newBucket,
  pendingUploads,
  runDaemon,
  sortedKeys,
  tempDir,
  testS3,
  waitFor,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { md5 } from "./mirror.ts";

function start(configPath: string): Daemon {
  return new Daemon(["--config", configPath, "--http-port", "0", "--metrics-port", "0"]);
}

Deno.test("a file cut short while it uploads is uploaded again, and no parts are left", async () => {
  const root = await tempDir();
  const bucket = await newBucket("shrink");
  await writeFile(root, "seed.txt", "seed");
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    watch_interval: "200ms",
  }], { loglevel: "debug" });
  const daemon = start(config);
  try {
    await daemon.waitForLog(/initial sync done/);
    await writeFile(root, "big.bin", bytes(48 * MiB, 3));
    // The checksum stage has passed the file on to the upload stage: now pull the rug.
    await daemon.waitForLog(/not in the bucket site=\S+ path=big\.bin/);
    const small = bytes(1024, 4);
    await Deno.writeFile(`${root}/big.bin`, small);
    await waitFor(
      "big.bin with its new content",
      async () => (await listBucket(bucket)).get("big.bin")?.etag === md5(small),
    );
    assert.deepEqual(await pendingUploads(bucket), []);
  } finally {
    await daemon.stop();
  }
});

Deno.test("a file deleted while it uploads leaves nothing behind with retire_deleted", async () => {
  const root = await tempDir();
  const bucket = await newBucket("vanish");
  await writeFile(root, "seed.txt", "seed");
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    retire_deleted: true,
    watch_interval: "200ms",
  }], { loglevel: "debug" });
  const daemon = start(config);
  try {
    await daemon.waitForLog(/initial sync done/);
    await writeFile(root, "doomed.bin", bytes(40 * MiB, 8));
    await daemon.waitForLog(/not in the bucket site=\S+ path=doomed\.bin/);
    await Deno.remove(`${root}/doomed.bin`);
    await writeFile(root, "after.txt", "after");
    // Whether the upload finished before the delete was seen or not, the end state is the same.
    await waitFor(
      "only seed.txt and after.txt",
      async () =>
        JSON.stringify(await sortedKeys(bucket)) === JSON.stringify(["after.txt", "seed.txt"]),
    );
    await waitFor(
      "no pending multipart upload",
      async () => (await pendingUploads(bucket)).length === 0,
    );
  } finally {
    await daemon.stop();
  }
});

Deno.test("a site whose bucket is missing at start keeps retrying while the others sync", async () => {
  const one = await tempDir();
  const two = await tempDir();
  const good = await newBucket("good");
  const late = `late-${Date.now().toString(36)}-${Deno.pid}`;
  await writeFile(one, "1.txt", "1");
  await writeFile(two, "2.txt", "2");
  const config = await writeConfig(await tempDir(), [
    { local_path: one, bucket: good },
    { local_path: two, bucket: late },
  ]);
  const daemon = start(config);
  try {
    await waitFor("the good site synced", async () => (await sortedKeys(good)).length === 1);
    await daemon.waitForLog(/Cannot list bucket "late-.*NoSuchBucket/);
    await testS3().client.send(new CreateBucketCommand({ Bucket: late }));
    await waitFor(
      "the late site synced",
      async () => (await sortedKeys(late)).join() === "2.txt",
      60_000,
    );
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
});

Deno.test("the periodic reconcile restores an object deleted behind the daemon's back", async () => {
  const root = await tempDir();
  const bucket = await newBucket("heal");
  await writeFile(root, "a.txt", "a");
  await writeFile(root, "b.txt", "b");
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    reconcile_interval: "1s",
  }]);
  const daemon = start(config);
  try {
    await waitFor("both files", async () => (await sortedKeys(bucket)).length === 2);
    await testS3().client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "a.txt" }));
    await waitFor("a.txt back", async () => (await sortedKeys(bucket)).join() === "a.txt,b.txt");
  } finally {
    await daemon.stop();
  }
});

Deno.test("a start aborts the multipart uploads a killed run left under the prefix", async () => {
  const root = await tempDir();
  const bucket = await newBucket("orphans");
  await writeFile(root, "a.txt", "a");
  const client = testS3().client;
  for (const key of ["site/big.bin", "site/dir/other.bin", "elsewhere/keep.bin"]) {
    await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  }
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    bucket_path: "site",
  }]);
  const result = await runDaemon(["--config", config, "--once"]);
  assert.equal(result.code, 0, result.stderr);
  // Only the site's own prefix is cleaned: another prefix may belong to another tool.
  assert.deepEqual(await pendingUploads(bucket), ["elsewhere/keep.bin"]);
  assert.deepEqual(await sortedKeys(bucket, "site/"), ["site/a.txt"]);
});
