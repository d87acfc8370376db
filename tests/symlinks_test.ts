/**
 * `follow_symlinks` end to end: real links in a real folder, the daemon against the real server,
 * and the bucket's keys asserted exactly.
 */

import assert from "node:assert/strict";
import {
  Daemon,
  listBucket,
  newBucket,
  runDaemon,
  sortedKeys,
  tempDir,
  waitFor,
  waitForKeys,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { md5 } from "./mirror.ts";

/**
 * base/root/                     base/outside/o.txt
 *   a.txt
 *   b -> real          a folder link: its files go under b/
 *   dangling -> gone
 *   out -> ../outside  a folder outside the tree
 *   real/x.txt
 *   real/up -> ..      a loop
 *   z -> a.txt         a file link
 */
async function tree(): Promise<{ root: string; outside: string }> {
  const base = await tempDir();
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  await writeFile(root, "a.txt", "a");
  await writeFile(root, "real/x.txt", "x");
  await writeFile(outside, "o.txt", "outside");
  await Deno.symlink("real", `${root}/b`);
  await Deno.symlink("gone", `${root}/dangling`);
  await Deno.symlink("../outside", `${root}/out`);
  await Deno.symlink("..", `${root}/real/up`);
  await Deno.symlink("a.txt", `${root}/z`);
  return { root, outside };
}

async function once(
  root: string,
  bucket: string,
  site: Record<string, unknown>,
  ...flags: string[]
) {
  const config = await writeConfig(await tempDir(), [{ local_path: root, bucket, ...site }]);
  return await runDaemon(["--config", config, "--once", ...flags]);
}

Deno.test("--once without follow_symlinks uploads no key for any link", async () => {
  const { root } = await tree();
  const bucket = await newBucket("links-off");
  const run = await once(root, bucket, {});
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await sortedKeys(bucket), ["a.txt", "real/x.txt"]);
});

Deno.test("--once with follow_symlinks: true uploads file and folder links at their paths, and skips a link outside and a loop", async () => {
  const { root } = await tree();
  const bucket = await newBucket("links-true");
  const run = await once(root, bucket, { follow_symlinks: true });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await sortedKeys(bucket), ["a.txt", "b/x.txt", "real/x.txt", "z"]);
  const listed = await listBucket(bucket);
  assert.equal(listed.get("z")?.etag, md5("a"));
  assert.equal(listed.get("b/x.txt")?.etag, md5("x"));
  const log = run.stdout + run.stderr;
  // The loop is met twice (real/up, and b/up through the link) and reported once for each link.
  assert.equal(log.match(/path=real\/up/g)?.length, 1, log);
  assert.match(log, /not following the symlink: it points outside local_path/);
  // A --verify that follows links as the daemon does finds the bucket whole.
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    follow_symlinks: true,
  }]);
  const verify = await runDaemon(["--config", config, "--verify"]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, /summary site=\S+ files=4 equal=4 missing=0 extra=0/);
});

Deno.test("--once with follow_symlinks: any follows the link outside the tree too", async () => {
  const { root } = await tree();
  const bucket = await newBucket("links-any");
  const run = await once(root, bucket, { follow_symlinks: "any", retire_deleted: true });
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(await sortedKeys(bucket), [
    "a.txt",
    "b/x.txt",
    "out/o.txt",
    "real/x.txt",
    "z",
  ]);
  // Back to the default: the links' objects are what retire_deleted deletes.
  const off = await once(root, bucket, { retire_deleted: true });
  assert.equal(off.code, 0, off.stderr);
  assert.deepEqual(await sortedKeys(bucket), ["a.txt", "real/x.txt"]);
});

Deno.test("follow_symlinks with another value stops the start with exit 2 and the field", async () => {
  const root = await tempDir();
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket: "unused",
    follow_symlinks: "yes",
  }], { follow_symlinks: 1 });
  const run = await runDaemon(["--config", config, "--once"]);
  assert.equal(run.code, 2, run.stderr);
  assert.match(run.stderr, /follow_symlinks: must be true, false or "any", got 1/);
  assert.match(run.stderr, /sites\[0\]\.follow_symlinks: must be true, false or "any", got "yes"/);
});

Deno.test("watching follows changes behind links: in a folder link's target, outside, and when a link is re-pointed or left dangling", async () => {
  const { root, outside } = await tree();
  const bucket = await newBucket("links-watch");
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    follow_symlinks: "any",
    retire_deleted: true,
    watch_interval: "300ms",
  }]);
  const daemon = new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0"]);
  try {
    await daemon.waitForLog(/initial sync done/);
    await waitForKeys(bucket, ["a.txt", "b/x.txt", "out/o.txt", "real/x.txt", "z"]);
    await writeFile(root, "real/new.txt", "new");
    await writeFile(outside, "sub/deep.txt", "deep");
    await waitForKeys(bucket, [
      "a.txt",
      "b/new.txt",
      "b/x.txt",
      "out/o.txt",
      "out/sub/deep.txt",
      "real/new.txt",
      "real/x.txt",
      "z",
    ]);
    // Re-pointed: the link's whole subtree is compared again, as if the folder were replaced.
    await writeFile(root, "other/y.txt", "y");
    await Deno.symlink("other", `${root}/b.new`);
    await Deno.rename(`${root}/b.new`, `${root}/b`);
    // The file link's target edited: the link's key follows.
    await writeFile(root, "a.txt", "a, edited");
    await waitFor("b/ to hold other's files and z the new a.txt", async () => {
      const listed = await listBucket(bucket);
      return listed.has("b/y.txt") && !listed.has("b/x.txt") &&
        listed.get("z")?.etag === md5("a, edited");
    });
    // Left dangling: like a deleted file, with retire_deleted.
    await Deno.remove(`${root}/a.txt`);
    await waitFor("a.txt and z retired", async () => {
      const keys = await sortedKeys(bucket);
      return !keys.includes("a.txt") && !keys.includes("z");
    });
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
});
