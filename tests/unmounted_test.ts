/**
 * A disk mounted inside a site's folder, then not mounted at the next start: the folder is empty
 * on its parent's device, and nothing under it is deleted. The first run mounts a tmpfs in a user
 * and mount namespace of its own (so the machine never sees it); the second runs without it, as a
 * restart after the disk failed to mount. Half the site is on the disk, which `max_delete: 50%`
 * alone would let go: only the mount-point check keeps it.
 */

import assert from "node:assert/strict";
import { newBucket, runDaemon, sortedKeys, tempDir, writeConfig, writeFile } from "./helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const OUTSIDE = Array.from({ length: 20 }, (_, i) => `docs/d${String(i).padStart(2, "0")}.txt`);
const ON_DISK = Array.from({ length: 20 }, (_, i) => `disk/p${String(i).padStart(2, "0")}.txt`);

/** Runs --once with a tmpfs mounted on `root/disk` holding ON_DISK, inside a namespace of its own. */
async function runWithDiskMounted(root: string, config: string) {
  const script = `mount -t tmpfs tmpfs "$1/disk" && for f in ${
    ON_DISK.map((rel) => rel.slice(5)).join(" ")
  }; do echo "on disk $f" > "$1/disk/$f"; done && shift && exec "$@"`;
  return await new Deno.Command("unshare", {
    args: [
      "--user",
      "--map-root-user",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      script,
      "sh",
      root,
      Deno.execPath(),
      "run",
      "--allow-all",
      MAIN,
      "--config",
      config,
      "--once",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/** Whether a tmpfs can be mounted in a user and mount namespace here (not in every container). */
async function canMountInNamespace(): Promise<boolean> {
  try {
    const args = ["--user", "--map-root-user", "--mount", "mount", "-t", "tmpfs", "tmpfs", "/mnt"];
    return (await new Deno.Command("unshare", { args, stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "a restart while a disk inside the folder is not mounted deletes nothing under it",
  // Skipped where user namespaces are off: there is no other way to mount as a test.
  ignore: !(await canMountInNamespace()),
}, async () => {
  const root = await tempDir();
  for (const rel of OUTSIDE) await writeFile(root, rel, `outside ${rel}`);
  await Deno.mkdir(`${root}/disk`);
  const bucket = await newBucket("unmounted");
  const config = await writeConfig(await tempDir(), [
    { name: "unmounted", local_path: root, bucket, retire_deleted: true },
  ]);
  const mounted = await runWithDiskMounted(root, config);
  const stderr = new TextDecoder().decode(mounted.stderr);
  assert.equal(mounted.code, 0, stderr);
  assert.deepEqual(await sortedKeys(bucket), [...ON_DISK, ...OUTSIDE].sort());

  // The disk is not mounted now: "disk" is an empty folder on the parent's device.
  const restart = await runDaemon(["--config", config, "--once"]);
  assert.deepEqual(await sortedKeys(bucket), [...ON_DISK, ...OUTSIDE].sort(), restart.stderr);
  assert.match(
    restart.stderr,
    /Folder ".*\/disk" was a mount point and is now an empty folder on its parent's device/,
  );
  // Reported as an error, so that a cron run fails loudly.
  assert.equal(restart.code, 1, restart.stderr);

  // A file deleted outside the disk still goes: the rest of the site keeps syncing.
  await Deno.remove(`${root}/${OUTSIDE[0]}`);
  await runDaemon(["--config", config, "--once"]);
  assert.deepEqual(await sortedKeys(bucket), [...ON_DISK, ...OUTSIDE.slice(1)].sort());
});
