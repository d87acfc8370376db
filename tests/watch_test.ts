/**
 * Real-time watching: a daemon runs in the background and the bucket follows the folder. Every wait
 * is on the bucket's listing (or a log line), never on a clock.
 */

import assert from "node:assert/strict";
import {
  Daemon,
  listBucket,
  newBucket,
  tempDir,
  waitFor,
  waitForKeys,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { md5 } from "./mirror.ts";

async function startWatching(root: string, bucket: string, extra: Record<string, unknown> = {}) {
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    retire_deleted: true,
    watch_interval: "300ms",
    ...extra,
  }]);
  const daemon = new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0"]);
  await daemon.waitForLog(/initial sync done/);
  return daemon;
}

async function waitForEtag(bucket: string, key: string, etag: string) {
  await waitFor(
    `${key} with ETag ${etag}`,
    async () => (await listBucket(bucket)).get(key)?.etag === etag,
  );
}

Deno.test("watching uploads created and modified files, and deletes removed ones", async () => {
  const root = await tempDir();
  const bucket = await newBucket("watch-basic");
  await writeFile(root, "existing.txt", "existing");
  const daemon = await startWatching(root, bucket);
  try {
    await waitForKeys(bucket, ["existing.txt"]);
    await writeFile(root, "new/file.txt", "created");
    await waitForEtag(bucket, "new/file.txt", md5("created"));
    await writeFile(root, "new/file.txt", "modified!");
    await waitForEtag(bucket, "new/file.txt", md5("modified!"));
    await Deno.remove(`${root}/existing.txt`);
    await waitForKeys(bucket, ["new/file.txt"]);
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
});

Deno.test("watching uploads a file appended to for seconds once, after it is quiet", async () => {
  const root = await tempDir();
  const bucket = await newBucket("watch-append");
  await writeFile(root, "keep.txt", "x");
  const daemon = await startWatching(root, bucket, { watch_interval: "1500ms" });
  try {
    const file = await Deno.open(`${root}/growing.log`, { create: true, append: true });
    let content = "";
    // The writer's own pace: a line every 250 ms for 3 s, as a slow producer would.
    for (let i = 0; i < 12; i++) {
      const line = `line ${i}\n`;
      await file.write(new TextEncoder().encode(line));
      content += line;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    file.close();
    await waitForEtag(bucket, "growing.log", md5(content));
    const uploads = daemon.log.match(/uploaded site=\S+ key=growing\.log /g) ?? [];
    assert.equal(uploads.length, 1, daemon.log);
  } finally {
    await daemon.stop();
  }
});

Deno.test("watching handles renames of files and folders, and folders moved in and out", async () => {
  const root = await tempDir();
  const outside = await tempDir();
  const bucket = await newBucket("watch-rename");
  await writeFile(root, "a.txt", "a");
  await writeFile(root, "dir/one.txt", "1");
  await writeFile(root, "dir/sub/two.txt", "2");
  await writeFile(outside, "incoming/three.txt", "3");
  await writeFile(outside, "incoming/deeper/four.txt", "4");
  const daemon = await startWatching(root, bucket);
  try {
    await waitForKeys(bucket, ["a.txt", "dir/one.txt", "dir/sub/two.txt"]);
    await Deno.rename(`${root}/a.txt`, `${root}/b.txt`);
    await waitForKeys(bucket, ["b.txt", "dir/one.txt", "dir/sub/two.txt"]);
    await Deno.rename(`${root}/dir`, `${root}/renamed`);
    await waitForKeys(bucket, ["b.txt", "renamed/one.txt", "renamed/sub/two.txt"]);
    await Deno.rename(`${outside}/incoming`, `${root}/incoming`);
    await waitForKeys(bucket, [
      "b.txt",
      "renamed/one.txt",
      "renamed/sub/two.txt",
      "incoming/three.txt",
      "incoming/deeper/four.txt",
    ]);
    await Deno.rename(`${root}/renamed`, `${outside}/gone`);
    await waitForKeys(bucket, ["b.txt", "incoming/three.txt", "incoming/deeper/four.txt"]);
  } finally {
    await daemon.stop();
  }
});

Deno.test("watching keeps the old key of a renamed file without retire_deleted", async () => {
  const root = await tempDir();
  const bucket = await newBucket("watch-keep");
  await writeFile(root, "a.txt", "a");
  const daemon = await startWatching(root, bucket, { retire_deleted: false });
  try {
    await waitForKeys(bucket, ["a.txt"]);
    await Deno.rename(`${root}/a.txt`, `${root}/b.txt`);
    await waitForKeys(bucket, ["a.txt", "b.txt"]);
    await Deno.remove(`${root}/b.txt`);
    await writeFile(root, "c.txt", "c");
    await waitForKeys(bucket, ["a.txt", "b.txt", "c.txt"]);
  } finally {
    await daemon.stop();
  }
});

Deno.test("watching catches every file of mkdir -p followed at once by 2,000 files", async () => {
  const root = await tempDir();
  const bucket = await newBucket("watch-burst");
  await writeFile(root, "seed.txt", "seed");
  const daemon = await startWatching(root, bucket);
  try {
    await waitForKeys(bucket, ["seed.txt"]);
    await Deno.mkdir(`${root}/a/b/c`, { recursive: true });
    const expected = ["seed.txt"];
    for (let i = 0; i < 2000; i++) {
      await Deno.writeTextFile(`${root}/a/b/c/f${i}.txt`, `file ${i}`);
      expected.push(`a/b/c/f${i}.txt`);
    }
    await waitForKeys(bucket, expected, 120_000);
  } finally {
    await daemon.stop();
  }
});

Deno.test("watching never uploads excluded files", async () => {
  const root = await tempDir();
  const bucket = await newBucket("watch-excl");
  await writeFile(root, "seed.txt", "seed");
  const daemon = await startWatching(root, bucket, { exclusions: ["\\.tmp$"] });
  try {
    await waitForKeys(bucket, ["seed.txt"]);
    await writeFile(root, "work.tmp", "scratch");
    await writeFile(root, "done.txt", "done");
    await waitForKeys(bucket, ["done.txt", "seed.txt"]);
    assert.doesNotMatch(daemon.log, /work\.tmp/);
  } finally {
    await daemon.stop();
  }
});

Deno.test("watching turns a rename into a copy inside the bucket, not a second upload", async () => {
  const root = await tempDir();
  const bucket = await newBucket("watch-move");
  await writeFile(root, "dir/big.bin", new Uint8Array(3 * 1024 * 1024).fill(7));
  await writeFile(root, "a.txt", "a");
  const daemon = await startWatching(root, bucket);
  try {
    await waitForKeys(bucket, ["a.txt", "dir/big.bin"]);
    const etag = (await listBucket(bucket)).get("dir/big.bin")?.etag;
    await Deno.rename(`${root}/dir/big.bin`, `${root}/renamed.bin`);
    await Deno.rename(`${root}/dir`, `${root}/dir2`);
    await Deno.rename(`${root}/a.txt`, `${root}/dir2/a.txt`);
    await waitForKeys(bucket, ["dir2/a.txt", "renamed.bin"]);
    assert.equal((await listBucket(bucket)).get("renamed.bin")?.etag, etag);
    assert.match(daemon.log, /copied site=\S+ key=renamed\.bin from=dir\/big\.bin/);
    assert.match(daemon.log, /copied site=\S+ key=dir2\/a\.txt from=a\.txt/);
    assert.doesNotMatch(daemon.log, /uploaded site=\S+ key=(renamed\.bin|dir2\/a\.txt)/);
  } finally {
    await daemon.stop();
  }
});

Deno.test("watching resumes when a removed folder comes back, and deletes nothing meanwhile", async () => {
  const parent = await tempDir();
  const root = `${parent}/site`;
  const bucket = await newBucket("watch-back");
  await writeFile(root, "a.txt", "a");
  const daemon = await startWatching(root, bucket);
  try {
    await waitForKeys(bucket, ["a.txt"]);
    await Deno.rename(root, `${parent}/away`);
    await daemon.waitForLog(/was removed or moved; watching it again when it is back/);
    await writeFile(`${parent}/away`, "b.txt", "b");
    await Deno.rename(`${parent}/away`, root);
    await waitForKeys(bucket, ["a.txt", "b.txt"]);
    await daemon.waitForLog(/INFO {2}watching site=/);
    await writeFile(root, "c.txt", "c");
    await waitForKeys(bucket, ["a.txt", "b.txt", "c.txt"]);
    assert.doesNotMatch(daemon.log, /deleted site=/);
  } finally {
    await daemon.stop();
  }
});
