/**
 * The machine's limits: a folder of a million entries, and a user out of inotify watches. Each
 * ends with the bucket holding exactly what it should.
 */

import assert from "node:assert/strict";
import { Daemon, newBucket, tempDir, waitForKeys, writeConfig, writeFile } from "./helpers.ts";
import { MiB } from "./mirror.ts";

function startWatching(config: string, inotifyWatches?: number): Daemon {
  return new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0"], {
    inotifyWatches,
  });
}

/** The most memory the process has held, from the kernel's own count. */
async function peakRss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

Deno.test("a folder of a million entries is walked and watched in bounded memory", async () => {
  const root = await tempDir();
  const bucket = await newBucket("million");
  try {
    // Empty files an exclusion leaves out: the walk lists every one, the bucket gets none.
    const empty = new Uint8Array();
    for (let i = 0; i < 1_000_000; i++) Deno.writeFileSync(`${root}/${i}.crowd`, empty);
    await writeFile(root, "kept.txt", "kept");
    const config = await writeConfig(await tempDir(), [{
      local_path: root,
      bucket,
      retire_deleted: true,
      watch_interval: "300ms",
      exclusions: ["\\.crowd$"],
    }]);
    const daemon = startWatching(config);
    try {
      await daemon.waitForLog(/initial sync done/, 120_000);
      await waitForKeys(bucket, ["kept.txt"]);
      await writeFile(root, "new.txt", "new");
      await waitForKeys(bucket, ["kept.txt", "new.txt"]);
      // Measured on 2 cores: about 160 MiB; a daemon that keeps every name it walked (a set of
      // the paths seen) peaks near 260 MiB.
      const peak = await peakRss(daemon.pid);
      assert.ok(peak < 224 * MiB, `peak RSS ${Math.round(peak / MiB)} MiB, want under 224 MiB`);
    } finally {
      await daemon.stop();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("out of inotify watches: says so with the sysctl to raise, and still syncs by rescans", async () => {
  const root = await tempDir();
  const bucket = await newBucket("no-watches");
  // More folders than watches: the recursive watch cannot be set up.
  for (let i = 0; i < 30; i++) await writeFile(root, `d${i}/f.txt`, `file ${i}`);
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    watch_interval: "300ms",
  }]);
  const daemon = startWatching(config, 10);
  try {
    await daemon.waitForLog(
      /inotify watches is reached\. Raise it with "sysctl fs\.inotify\.max_user_watches=/,
    );
    const keys = Array.from({ length: 30 }, (_, i) => `d${i}/f.txt`);
    await waitForKeys(bucket, keys);
    // Unwatched, the site compares itself with the bucket every minute.
    await writeFile(root, "d3/later.txt", "later");
    await waitForKeys(bucket, [...keys, "d3/later.txt"], 90_000);
  } finally {
    await daemon.stop();
  }
});
