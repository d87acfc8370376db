/**
 * A filesystem mounted over a site's folder, and unmounted again, while the daemon watches it. The
 * daemon runs in a user and mount namespace of its own, and the mounts are made inside it, so the
 * machine never sees them. inotify reports nothing for either change: only the daemon's check of
 * the folder's device and inode numbers can notice that its watch is dead. The reconcile interval
 * is an hour, so a file that arrives within the deadlines arrived because of that check.
 */

import assert from "node:assert/strict";
import {
  Daemon,
  newBucket,
  sortedKeys,
  tempDir,
  waitForKeys,
  writeConfig,
  writeFile,
} from "./helpers.ts";

/** Well above the 5 s check plus a restart and a comparison of a few files; bounds a failure. */
const ARRIVAL_MS = 20_000;

async function startInOwnMounts(root: string, bucket: string, retireDeleted: boolean) {
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    retire_deleted: retireDeleted,
    watch_interval: "300ms",
    // Without the check, only this comparison would find the files written after a remount.
    reconcile_interval: "1h",
  }]);
  const daemon = new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0"], {
    mountNamespace: true,
  });
  await daemon.waitForLog(/initial sync done/);
  return daemon;
}

/** Runs `command` (mount, umount) inside the daemon's namespaces. */
async function inDaemonMounts(daemon: Daemon, ...command: string[]): Promise<void> {
  const out = await new Deno.Command("nsenter", {
    args: [
      `--target=${daemon.pid}`,
      "--user",
      "--preserve-credentials",
      "--mount",
      ...command,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`"${command.join(" ")}" in the daemon's mount namespace failed: ${stderr}`);
  }
}

function remountWarnings(log: string, root: string): string[] {
  const quoted = root.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const pattern = new RegExp(`WARN {2}The folder "${quoted}" is another folder now \\(.*`, "g");
  return log.match(pattern) ?? [];
}

Deno.test("a folder mounted over local_path, and unmounted again, is watched again each time", async () => {
  const root = await tempDir();
  const other = await tempDir();
  const bucket = await newBucket("remount");
  await writeFile(root, "a.txt", "a");
  const daemon = await startInOwnMounts(root, bucket, false);
  try {
    await waitForKeys(bucket, ["a.txt"]);
    // A bind mount on the same filesystem: the device stays, only the inode changes.
    await inDaemonMounts(daemon, "mount", "--bind", other, root);
    // Written through the mount's source, which is what the daemon sees at local_path now.
    await writeFile(other, "b.txt", "b");
    await waitForKeys(bucket, ["a.txt", "b.txt"], ARRIVAL_MS);
    const [mounted] = remountWarnings(daemon.log, root);
    assert.match(mounted ?? daemon.log, /\(inode \d+ -> \d+\): a filesystem was mounted/);

    await inDaemonMounts(daemon, "umount", root);
    // The folder under the mount is visible again, watched by nobody until the check sees it.
    await writeFile(root, "c.txt", "c");
    await waitForKeys(bucket, ["a.txt", "b.txt", "c.txt"], ARRIVAL_MS);
    assert.equal(remountWarnings(daemon.log, root).length, 2, daemon.log);
    // A remount is no outage: the watch never stopped being a watch.
    assert.doesNotMatch(daemon.log, /ERROR .* scope=watcher/);
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
});

Deno.test("an empty filesystem mounted over local_path deletes nothing, even with retire_deleted", async () => {
  const root = await tempDir();
  const bucket = await newBucket("remount-empty");
  await writeFile(root, "a.txt", "a");
  await writeFile(root, "dir/b.txt", "b");
  const daemon = await startInOwnMounts(root, bucket, true);
  try {
    await waitForKeys(bucket, ["a.txt", "dir/b.txt"]);
    // A new filesystem: the device changes. What a disk that failed to mount looks like.
    await inDaemonMounts(daemon, "mount", "-t", "tmpfs", "none", root);
    // The comparison after the restart found the folder empty and refused to empty the bucket.
    await daemon.waitForLog(/local folder is empty but the bucket is not; deleting nothing/);
    assert.match(remountWarnings(daemon.log, root)[0] ?? daemon.log, /\(device \d+ -> \d+, /);
    assert.deepEqual(await sortedKeys(bucket), ["a.txt", "dir/b.txt"]);

    await inDaemonMounts(daemon, "umount", root);
    await writeFile(root, "c.txt", "c");
    await waitForKeys(bucket, ["a.txt", "c.txt", "dir/b.txt"], ARRIVAL_MS);
    assert.equal(remountWarnings(daemon.log, root).length, 2, daemon.log);
    assert.doesNotMatch(daemon.log, /deleted site=/);
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
});
