/**
 * The machine's limits: a folder of a million entries, many small files synced and then watched,
 * and a user out of inotify watches. Each ends with the bucket holding exactly what it should.
 *
 *   S3SYNC_LIMITS_FILES=<n>   small files for the synced-and-watched test (default 20,000; the
 *                             long run is 200,000)
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
import { MiB } from "./mirror.ts";

const SMALL_FILES = Number(Deno.env.get("S3SYNC_LIMITS_FILES") ?? "20000");

function startWatching(config: string, inotifyWatches?: number): Daemon {
  return new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0"], {
    inotifyWatches,
  });
}

/** The most memory the process has held (VmHWM), or what it holds now (VmRSS). */
async function rss(pid: number, which: "VmHWM" | "VmRSS" = "VmHWM"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(new RegExp(`${which}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
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
      const peak = await rss(daemon.pid);
      assert.ok(peak < 224 * MiB, `peak RSS ${Math.round(peak / MiB)} MiB, want under 224 MiB`);
    } finally {
      await daemon.stop();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test(`${SMALL_FILES} small files are synced and then watched in bounded memory`, async () => {
  const root = await tempDir();
  const bucket = await newBucket("many");
  try {
    const names: string[] = [];
    for (let i = 0; i < SMALL_FILES; i++) {
      const dir = `d${Math.floor(i / 100)}`;
      if (i % 100 === 0) Deno.mkdirSync(`${root}/${dir}`);
      names.push(`${dir}/f${i}.txt`);
      Deno.writeTextFileSync(`${root}/${names[i]}`, `file ${i}\n`);
    }
    const config = await writeConfig(await tempDir(), [{
      local_path: root,
      bucket,
      retire_deleted: true,
      watch_interval: "300ms",
    }]);
    const daemon = startWatching(config);
    try {
      await daemon.waitForLog(/initial sync done/, SMALL_FILES * 20);
      const listed = await listBucket(bucket);
      assert.equal(listed.size, SMALL_FILES);
      for (const [i, name] of names.entries()) {
        assert.equal(listed.get(name)?.size, `file ${i}\n`.length, name);
      }
      await writeFile(root, "later/new.txt", "new");
      await waitFor("a later file", async () => (await listBucket(bucket)).has("later/new.txt"));
      // Issue 11's goals: settled while watching, under 150 MiB at 100,000 files and 250 MiB at a
      // million; a peak under 400 MiB during a million files' first comparison. Nothing here
      // grows with the tree (the listing is in SQLite, the walk holds one path's folders), so
      // the ceilings are those goals, whatever S3SYNC_LIMITS_FILES is; the peak's is kept below
      // its goal (measured: 229 MiB at 100,000 files). V8 gives back what a burst of garbage grew
      // its heap to once the process has been idle for some seconds.
      const mib = (bytes: number) => `${Math.round(bytes / MiB)} MiB`;
      const peak = await rss(daemon.pid);
      assert.ok(peak < 300 * MiB, `peak ${mib(peak)}, want under 300 MiB`);
      let settled = Infinity;
      await waitFor("RSS to settle under 150 MiB", async () => {
        settled = await rss(daemon.pid, "VmRSS");
        return settled < 150 * MiB;
      }, 120_000).catch((err) => {
        throw new Error(`${err.message}: ${mib(settled)}`);
      });
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
