/**
 * Soak: two sites behind the fault proxy while a writer keeps creating, rewriting, renaming and
 * deleting files, and the faults switch on and off. Afterwards each bucket must mirror its folder,
 * and the daemon's memory must be about where it started. Two minutes by default;
 * S3SYNC_SOAK_SECONDS runs it longer.
 */

import assert from "node:assert/strict";
import { FaultProxy, type Faults } from "./fault_proxy.ts";
import { Daemon, newBucket, tempDir, testS3, waitFor, writeConfig, writeFile } from "./helpers.ts";
import { assertConverges } from "./mirror.ts";

const SECONDS = Number(Deno.env.get("S3SYNC_SOAK_SECONDS") ?? "120");
const FAULTS: Faults[] = [
  {},
  { status: 503, statusShare: 0.2 },
  {},
  { resetShare: 0.3, resetAfterBytes: 64 * 1024 },
  {},
  { delayMs: 300 },
];

/** Resident memory of a process, from /proc (kB there). */
async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** A deterministic stream of operations on a folder: a soak that fails can be run again alike. */
class Writer {
  #seed: number;
  #files: string[] = [];
  #count = 0;

  constructor(readonly root: string, seed: number) {
    this.#seed = seed;
  }

  #random(n: number): number {
    this.#seed = (this.#seed * 1103515245 + 12345) % 2 ** 31;
    return this.#seed % n;
  }

  async step(): Promise<void> {
    const choice = this.#files.length < 20 ? 0 : this.#random(10);
    if (choice < 5) {
      const rel = `d${this.#random(5)}/f${this.#count++}.bin`;
      await writeFile(
        this.root,
        rel,
        new Uint8Array(1024 + this.#random(64 * 1024)).fill(this.#count % 251),
      );
      this.#files.push(rel);
    } else if (choice < 7) {
      const rel = this.#files[this.#random(this.#files.length)]!;
      await Deno.writeFile(`${this.root}/${rel}`, new Uint8Array(512 + this.#random(4096)).fill(7));
    } else if (choice < 9) {
      const i = this.#random(this.#files.length);
      const from = this.#files[i]!;
      const to = `d${this.#random(5)}/r${this.#count++}.bin`;
      await Deno.mkdir(`${this.root}/${to.split("/")[0]}`, { recursive: true });
      await Deno.rename(`${this.root}/${from}`, `${this.root}/${to}`);
      this.#files[i] = to;
    } else {
      const i = this.#random(this.#files.length);
      await Deno.remove(`${this.root}/${this.#files[i]}`);
      this.#files.splice(i, 1);
    }
  }
}

Deno.test(`soak: two sites, ${SECONDS} s of changes with faults on and off, nothing lost`, async () => {
  const proxy = await FaultProxy.start(new URL(testS3().endpoint));
  const roots = [await tempDir(), await tempDir()];
  const buckets = [await newBucket("soak-a"), await newBucket("soak-b")];
  for (const root of roots) await writeFile(root, "seed.txt", "seed");
  const config = await writeConfig(
    await tempDir(),
    roots.map((root, i) => ({
      local_path: root,
      bucket: buckets[i],
      endpoint: proxy.endpoint,
      retire_deleted: true,
      watch_interval: "300ms",
      s3_ops_retries: 2,
      reconcile_interval: "30s",
    })),
  );
  const daemon = new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0"]);
  try {
    await waitFor(
      "both sites synced",
      () => (daemon.log.match(/initial sync done/g) ?? []).length === 2,
    );
    const startRss = await rss(daemon.pid);
    const writers = roots.map((root, i) => new Writer(root, i + 1));
    const end = Date.now() + SECONDS * 1000;
    let phase = 0;
    let nextPhaseAt = Date.now();
    while (Date.now() < end) {
      if (Date.now() >= nextPhaseAt) {
        proxy.set(FAULTS[phase++ % FAULTS.length]!);
        nextPhaseAt = Date.now() + 10_000;
      }
      for (const writer of writers) await writer.step();
      // The writers' own pace: a few changes per second per site.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    proxy.set({});
    for (const [i, root] of roots.entries()) await assertConverges(buckets[i]!, root, 120_000);
    // Once idle, hashing threads stop and buffers are freed: memory must come back near its start.
    const bound = startRss * 1.5 + 64 * 2 ** 20;
    let endRss = 0;
    try {
      await waitFor(
        "memory back near its start",
        async () => (endRss = await rss(daemon.pid)) < bound,
        60_000,
      );
    } finally {
      Deno.stderr.writeSync(new TextEncoder().encode(
        `  [soak] RSS ${(startRss / 2 ** 20).toFixed(0)} MiB at start, ` +
          `${(endRss / 2 ** 20).toFixed(0)} MiB at the end; faults: ${
            JSON.stringify(proxy.stats)
          }\n`,
      ));
    }
    assert.ok(endRss < bound);
  } finally {
    await daemon.stop();
    await proxy.close();
  }
});
