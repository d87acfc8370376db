/**
 * `acl` end to end: the daemon run with --once against the real server, then each object's ACL read
 * back with GetObjectAcl. RGW supports canned ACLs on PutObject, CreateMultipartUpload and
 * CopyObject, and serves objects to anonymous readers as their ACL says.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { GetObjectAclCommand, PutObjectAclCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { MiB, PART_SIZE } from "../src/pipeline/etag.ts";
import { copyObject } from "../src/pipeline/copy.ts";
import { createS3Store } from "../src/store/s3.ts";
import {
  bytes,
  newBucket,
  runDaemon,
  siteConfig,
  tempDir,
  testS3,
  writeConfig,
  writeFile,
} from "./helpers.ts";

const ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers";

/** True when the object's ACL grants READ to everyone (AllUsers). */
async function publiclyReadable(bucket: string, key: string): Promise<boolean> {
  const acl = await testS3().client.send(new GetObjectAclCommand({ Bucket: bucket, Key: key }));
  return (acl.Grants ?? []).some((g) => g.Grantee?.URI === ALL_USERS && g.Permission === "READ");
}

/** The status of a GET without credentials; the body is read so that no resource leaks. */
async function anonymousGet(bucket: string, key: string): Promise<number> {
  const response = await fetch(`${testS3().endpoint}/${bucket}/${key}`);
  await response.body?.cancel();
  return response.status;
}

async function once(config: string): Promise<string> {
  const result = await runDaemon(["--config", config, "--once"]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}

Deno.test("--once sets acl on single PUTs, multipart uploads and copies", async () => {
  const root = await tempDir();
  const bucket = await newBucket("acl");
  await writeFile(root, "small.txt", "small");
  await writeFile(root, "old-name.txt", "renamed later");
  await writeFile(root, "big.bin", bytes(PART_SIZE + 3 * MiB, 5));
  // Already there with the same bytes in another class: a copy onto itself, no upload.
  await writeFile(root, "drifted.txt", "drifted");
  await testS3().client.send(
    new PutObjectCommand({ Bucket: bucket, Key: "drifted.txt", Body: "drifted" }),
  );
  const sites = [{
    local_path: root,
    bucket,
    acl: "public-read",
    storage_class: "STANDARD_IA",
    retire_deleted: true,
  }];
  const config = await writeConfig(await tempDir(), sites);
  assert.match(await once(config), /uploaded 3 \(\d+ bytes\), copied 1,/);
  for (const key of ["small.txt", "old-name.txt", "big.bin", "drifted.txt"]) {
    assert.ok(await publiclyReadable(bucket, key), `${key} is not public-read`);
    assert.equal(await anonymousGet(bucket, key), 200, key);
  }

  // After a restart the state store finds the same inode under its new name: a copy. Its source
  // is made private first, so that a public copy shows the copy's own ACL, not one carried over.
  await testS3().client.send(
    new PutObjectAclCommand({ Bucket: bucket, Key: "old-name.txt", ACL: "private" }),
  );
  await Deno.rename(`${root}/old-name.txt`, `${root}/new-name.txt`);
  assert.match(await once(config), /uploaded 0 \(0 bytes\), copied 1, deleted 1,/);
  assert.ok(await publiclyReadable(bucket, "new-name.txt"));
  assert.equal(await anonymousGet(bucket, "new-name.txt"), 200);
});

Deno.test("--once without acl sends none: objects stay private to their owner", async () => {
  const root = await tempDir();
  const bucket = await newBucket("no-acl");
  await writeFile(root, "small.txt", "small");
  await writeFile(root, "big.bin", bytes(PART_SIZE + MiB, 6));
  const config = await writeConfig(await tempDir(), [{ local_path: root, bucket }]);
  assert.match(await once(config), /uploaded 2 /);
  for (const key of ["small.txt", "big.bin"]) {
    assert.equal(await publiclyReadable(bucket, key), false, key);
    assert.equal(await anonymousGet(bucket, key), 403, key);
  }
});

Deno.test("copyObject() sets the acl on a multipart copy too (objects over 5 GiB)", async () => {
  const bucket = await newBucket("acl-copy");
  const store = createS3Store(siteConfig({ localPath: "/unused", bucket }), 2);
  try {
    const data = bytes(12 * MiB, 7);
    const md5 = createHash("md5").update(data);
    const { etag } = await store.put("large", data, md5.copy().digest("base64"), {
      storageClass: "STANDARD",
      contentType: "application/octet-stream",
    });
    assert.equal(await publiclyReadable(bucket, "large"), false);
    const request = {
      source: "large",
      key: "moved/large",
      size: data.length,
      storageClass: "STANDARD",
      acl: "public-read",
      ifMatch: etag || md5.digest("hex"),
    };
    // A 10 MiB copy limit forces the multipart copy (CreateMultipartUpload carries the ACL).
    await copyObject(store, request, undefined, 10 * MiB);
    assert.ok(await publiclyReadable(bucket, "moved/large"));
    assert.equal(await anonymousGet(bucket, "moved/large"), 200);
  } finally {
    store.close?.();
  }
});
