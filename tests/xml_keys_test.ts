/**
 * File names that XML mangles (CR becomes LF) or cannot hold at all (U+0001), end to end: Linux
 * allows every byte but "/" and NUL in a name, so a folder can hold both `Icon\r` (where macOS
 * keeps a folder's icon) and `Icon\n`, and the daemon must keep them apart in the bucket.
 */

import assert from "node:assert/strict";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { newBucket, runDaemon, tempDir, testS3, writeConfig, writeFile } from "./helpers.ts";

/** The bucket's keys, URL-encoded on the wire so that U+0001 survives; RGW writes " " as %20. */
async function storedKeys(bucket: string): Promise<string[]> {
  const page = await testS3().client.send(
    new ListObjectsV2Command({ Bucket: bucket, EncodingType: "url" }),
  );
  assert.equal(page.EncodingType, "url");
  return (page.Contents ?? []).map((item) => decodeURIComponent(item.Key ?? "")).sort();
}

Deno.test("--once with retire_deleted deletes Icon\\r and a U+0001 name, and keeps Icon\\n", async () => {
  const root = await tempDir();
  const bucket = await newBucket("xmlkeys");
  const names = ["Icon\r", "Icon\n", "ctl\u0001x", "tab\there", "dir/sp ace+plus.txt", "plain"];
  for (const name of names) await writeFile(root, name, name);
  const config = await writeConfig(await tempDir(), [
    { local_path: root, bucket, bucket_path: "site", retire_deleted: true },
  ]);

  const first = await runDaemon(["--config", config, "--once"]);
  assert.equal(first.code, 0, first.stderr);
  assert.deepEqual(await storedKeys(bucket), names.map((name) => `site/${name}`).sort());

  await Deno.remove(`${root}/Icon\r`);
  await Deno.remove(`${root}/ctl\u0001x`);
  const second = await runDaemon(["--config", config, "--once"]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /uploaded 0 .*deleted 2, errors 0/);
  assert.deepEqual(
    await storedKeys(bucket),
    ["site/Icon\n", "site/dir/sp ace+plus.txt", "site/plain", "site/tab\there"].sort(),
  );
});
