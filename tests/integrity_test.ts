/**
 * Everyday patterns that once left an object holding another file's bytes, or an object that
 * should be gone, run against the real daemon and server. Each ends with the bucket compared with
 * the folder (keys, sizes, ETags), while watching and again after a restart with --once.
 */

import assert from "node:assert/strict";
import {
  bytes,
  Daemon,
  listBucket,
  newBucket,
  pastTimestampGranule,
  runDaemon,
  tempDir,
  waitForKeys,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { assertConverges, md5, MiB } from "./mirror.ts";

interface Watching {
  readonly daemon: Daemon;
  readonly config: string;
}

async function startWatching(
  root: string,
  bucket: string,
  extra: Record<string, unknown> = {},
): Promise<Watching> {
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    retire_deleted: true,
    watch_interval: "300ms",
    reconcile_interval: "1h", // so that nothing here waits for a periodic reconcile
    ...extra,
  }]);
  const daemon = new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0"]);
  await daemon.waitForLog(/initial sync done/);
  return { daemon, config };
}

/** Stops the daemon, then requires a --once that changes nothing and a bucket that still matches. */
async function assertStableAfterRestart(
  { daemon, config }: Watching,
  bucket: string,
  root: string,
) {
  assert.equal(await daemon.stop(), 0);
  const once = await runDaemon(["--config", config, "--once"]);
  assert.equal(once.code, 0, once.stderr);
  assert.match(once.stdout, /uploaded 0 \(0 bytes\), copied 0, deleted 0,/, once.stdout);
  await assertConverges(bucket, root, 5_000);
}

Deno.test("log rotation while watching: each rotated log keeps its own bytes", async () => {
  const root = await tempDir();
  const bucket = await newBucket("rotate");
  await writeFile(root, "logs/app.log", "generation 0\n".repeat(500));
  const watching = await startWatching(root, bucket, { upload_workers: 1 });
  try {
    await waitForKeys(bucket, ["logs/app.log"]);
    // Past the second of the last write, a rename gives the file a new ctime: its check must then
    // read it, and the new app.log's upload (no read needed: its size differs) overtakes the copy.
    await pastTimestampGranule(`${root}/logs/app.log`);
    // mv app.log app.log.N, then at once a new, small app.log: the rename's copy of the key
    // app.log races the new file's upload to that same key.
    for (let n = 1; n <= 3; n++) {
      await Deno.rename(`${root}/logs/app.log`, `${root}/logs/app.log.${n}`);
      await writeFile(root, "logs/app.log", `generation ${n}\n`.repeat(n));
    }
    await assertConverges(bucket, root);
    const listed = await listBucket(bucket);
    assert.equal(listed.get("logs/app.log.1")?.etag, md5("generation 0\n".repeat(500)));
    assert.equal(listed.get("logs/app.log")?.etag, md5("generation 3\n".repeat(3)));
  } finally {
    await watching.daemon.stop();
  }
  await assertStableAfterRestart(watching, bucket, root);
});

Deno.test("log rotation while stopped: the restart's copy by inode is pinned too", async () => {
  const root = await tempDir();
  const bucket = await newBucket("rotate-restart");
  await writeFile(root, "app.log", "old log\n".repeat(100));
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    retire_deleted: true,
  }], { upload_workers: 1 });
  assert.equal((await runDaemon(["--config", config, "--once"])).code, 0);
  await pastTimestampGranule(`${root}/app.log`);
  await Deno.rename(`${root}/app.log`, `${root}/app.log.1`);
  await writeFile(root, "app.log", "new log\n");
  const first = await runDaemon(["--config", config, "--once"]);
  assert.equal(first.code, 0, first.stderr);
  await assertConverges(bucket, root, 5_000);
  assert.equal((await listBucket(bucket)).get("app.log.1")?.etag, md5("old log\n".repeat(100)));
});

Deno.test("backup rotation behind a busy upload stage: the backup never gets the new bytes", async () => {
  const root = await tempDir();
  const bucket = await newBucket("backup-rotate");
  const size = 2 * MiB;
  await writeFile(root, "db.img", bytes(size, 1));
  const watching = await startWatching(root, bucket, { upload_workers: 1 });
  try {
    await waitForKeys(bucket, ["db.img"]);
    // One large upload holds the only upload worker while the rotation happens.
    await writeFile(root, "big.bin", bytes(48 * MiB, 9));
    await watching.daemon.waitForLog(/comparing content|uploaded site=\S+ key=big\.bin/, 10_000)
      .catch(() => {});
    await Deno.rename(`${root}/db.img`, `${root}/db.img.bak`);
    await writeFile(root, "db.img", bytes(size, 2)); // the same size, other bytes
    await Deno.chmod(`${root}/db.img.bak`, 0o444);
    await assertConverges(bucket, root, 90_000);
    const listed = await listBucket(bucket);
    assert.equal(listed.get("db.img.bak")?.etag, md5(bytes(size, 1)));
    assert.equal(listed.get("db.img")?.etag, md5(bytes(size, 2)));
  } finally {
    await watching.daemon.stop();
  }
  await assertStableAfterRestart(watching, bucket, root);
});

Deno.test("a folder replaced by a file of the same name, and back, is retired at once", async () => {
  const root = await tempDir();
  const away = await tempDir();
  const bucket = await newBucket("kind-change");
  await writeFile(root, "reports/q1.csv", "q1");
  await writeFile(root, "reports/2026/q2.csv", "q2");
  await writeFile(root, "notes", "a file called notes");
  const watching = await startWatching(root, bucket);
  try {
    await waitForKeys(bucket, ["notes", "reports/2026/q2.csv", "reports/q1.csv"]);
    // mv reports elsewhere; echo > reports
    await Deno.rename(`${root}/reports`, `${away}/reports`);
    await writeFile(root, "reports", "now a file");
    // rm notes; mkdir notes; echo > notes/a
    await Deno.remove(`${root}/notes`);
    await writeFile(root, "notes/a", "now a folder");
    await waitForKeys(bucket, ["notes/a", "reports"]);
    await assertConverges(bucket, root, 5_000);
  } finally {
    await watching.daemon.stop();
  }
  await assertStableAfterRestart(watching, bucket, root);
});
