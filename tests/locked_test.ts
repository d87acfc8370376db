/**
 * Deletes the server refuses for good. RGW, like AWS, does not refuse a plain DELETE (no version)
 * of an object under Object Lock or a legal hold: on such a (versioned) bucket the delete leaves a
 * delete marker and the locked version stays. What does refuse it is a policy, so a bucket policy
 * that denies `s3:DeleteObject` under `keep/` stands in for a lock here (RGW applies a Deny to the
 * bucket's owner too, as AWS does).
 * @module
 */

import assert from "node:assert/strict";
import { PutBucketPolicyCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  Daemon,
  newBucket,
  runDaemon,
  sortedKeys,
  tempDir,
  testS3,
  waitFor,
  writeConfig,
  writeFile,
} from "./helpers.ts";

const REFUSED = /cannot delete \(refused by the server: a bucket policy or permission\)/;

/** A bucket with `keys`, whose objects under `keep/` cannot be deleted. */
async function guardedBucket(label: string, keys: string[]): Promise<string> {
  const bucket = await newBucket(label);
  const client = testS3().client;
  for (const key of keys) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "x" }));
  }
  const statement = {
    Effect: "Deny",
    Principal: "*",
    Action: "s3:DeleteObject",
    Resource: `arn:aws:s3:::${bucket}/keep/*`,
  };
  const policy = JSON.stringify({ Version: "2012-10-17", Statement: [statement] });
  await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy }));
  return bucket;
}

Deno.test("--once reports each refused delete once, deletes the rest, and exits 1", async () => {
  const root = await tempDir();
  await writeFile(root, "here.txt", "here");
  // "keep/ctl\u0001" goes alone, as a DeleteObject answered 403; the others in one DeleteObjects.
  const bucket = await guardedBucket("refused", ["gone.txt", "keep/a.txt", "keep/ctl\u0001"]);
  const config = await writeConfig(await tempDir(), [
    { local_path: root, bucket, retire_deleted: true },
  ]);
  const { code, stdout, stderr } = await runDaemon(["--config", config, "--once"]);
  assert.equal(code, 1, stderr);
  assert.deepEqual(await sortedKeys(bucket), ["here.txt", "keep/a.txt", "keep/ctl\u0001"]);
  const lines = stderr.split("\n").filter((line) => REFUSED.test(line));
  assert.equal(lines.length, 2, stderr);
  assert.ok(lines.some((line) => line.includes("keep/a.txt")), stderr);
  assert.ok(lines.some((line) => /AccessDenied/.test(line)), stderr);
  assert.match(stdout, /deleted 1, errors 2, failed jobs 2/);
});

Deno.test("a running daemon tries a refused delete once a full comparison, quietly", async () => {
  const root = await tempDir();
  await writeFile(root, "here.txt", "here");
  const bucket = await guardedBucket("refusedwatch", ["gone.txt", "keep/a.txt"]);
  const dir = await tempDir();
  const config = await writeConfig(
    dir,
    [{ local_path: root, bucket, retire_deleted: true, reconcile_interval: "1s" }],
    { loglevel: "debug" },
  );
  const daemon = new Daemon(["--config", config]);
  try {
    // Three later comparisons, each one quiet attempt: not parked and retried on its own.
    await waitFor(
      "three quiet attempts",
      () => (daemon.log.match(/still cannot delete/g) ?? []).length >= 3,
    );
    assert.equal(daemon.log.split("\n").filter((line) => REFUSED.test(line)).length, 1, daemon.log);
    assert.deepEqual(await sortedKeys(bucket), ["here.txt", "keep/a.txt"]);
  } finally {
    await daemon.stop();
  }
});
