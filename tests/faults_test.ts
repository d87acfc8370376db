/**
 * Reliability under faults: the daemon runs behind a fault-injecting proxy (fault_proxy.ts) or is
 * killed, its folder vanishes, its state store cannot be written. Every test ends with the bucket
 * compared to the local tree: the same keys, sizes and ETags (the MD5 for one PUT; for parts, the
 * MD5 of the 8 MiB parts' MD5s and "-N", computed here from the file), and no unfinished multipart
 * upload.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { FaultProxy } from "./fault_proxy.ts";
import { assertConverges, MiB } from "./mirror.ts";
import {
  bytes,
  Daemon,
  freePort,
  listBucket,
  newBucket,
  pendingUploads,
  runDaemon,
  sortedKeys,
  tempDir,
  testS3,
  waitFor,
  writeConfig,
  writeFile,
} from "./helpers.ts";

/** Runs `body`; a failure carries the end of the daemons' logs, which say why. */
async function withLogs(daemons: () => Daemon[], body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const logs: string[] = [];
    for (const [i, daemon] of daemons().entries()) {
      const saved = await Deno.makeTempFile({ prefix: "s3sync-faults-", suffix: ".log" });
      await Deno.writeTextFile(saved, daemon.log);
      logs.push(`--- daemon ${i + 1} (whole log: ${saved}) ---\n${tail(daemon.log, 40)}`);
    }
    throw new Error(`${(err as Error).message}\n${logs.join("\n")}`, { cause: err });
  } finally {
    for (const daemon of daemons()) await daemon.stop();
  }
}

const tail = (text: string, lines: number) => text.trimEnd().split("\n").slice(-lines).join("\n");

/** A line on stderr with a number worth reporting (how long a heal took); not an assertion. */
function note(message: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`  [faults] ${message}\n`));
}

function start(config: string, ...flags: string[]): Daemon {
  return new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0", ...flags]);
}

async function startProxy(): Promise<FaultProxy> {
  return await FaultProxy.start(new URL(testS3().endpoint));
}

/** Waits out a fault that is on: the outage is the scenario, not a synchronisation. */
const during = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a server hung then down for 30 s mid initial sync of 2,000 files: everything arrives once it is back", async () => {
  const root = await tempDir();
  const bucket = await newBucket("outage");
  for (let i = 0; i < 2000; i++) {
    await writeFile(root, `d${i % 20}/f${i}.txt`, bytes(100 + (i * 37) % 4000, i + 1));
  }
  const proxy = await startProxy();
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    endpoint: proxy.endpoint,
    watch_interval: "200ms",
    s3_ops_retries: 2,
    reconcile_interval: "20s",
  }]);
  const daemon = start(config);
  await withLogs(() => [daemon], async () => {
    await waitFor(
      "a first share of the files",
      async () => (await sortedKeys(bucket)).length >= 200,
    );
    // First hung (connections accepted, nothing answered), then down (connections refused).
    proxy.set({ blackhole: true });
    const atOutage = (await sortedKeys(bucket)).length;
    assert.ok(atOutage < 2000, "the initial sync must still be running when the server stops");
    await during(15_000);
    proxy.set({ refuse: true });
    await daemon.waitForLog(/ERROR .*Cannot (upload|list)/);
    await during(15_000);
    const atReturn = (await sortedKeys(bucket)).length;
    proxy.set({});
    const back = Date.now();
    await assertConverges(bucket, root, 150_000);
    note(
      `outage: ${atOutage} objects when the server stopped, ${atReturn} when it came back, ` +
        `${proxy.stats.blackholed} held, ${proxy.stats.refused} refused; healed ${
          (Date.now() - back) / 1000
        } s later`,
    );
  });
  await proxy.close();
});

Deno.test("20% of requests answered 503 SlowDown: initial sync and watched changes all arrive", async () => {
  const root = await tempDir();
  const bucket = await newBucket("slowdown");
  for (let i = 0; i < 300; i++) {
    await writeFile(root, `s${i % 7}/f${i}.txt`, bytes(200 + i * 11, i));
  }
  await writeFile(root, "big.bin", bytes(12 * MiB, 99));
  const proxy = await startProxy();
  proxy.set({ statusShare: 0.2, status: 503 });
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    endpoint: proxy.endpoint,
    retire_deleted: true,
    watch_interval: "200ms",
  }]);
  const daemon = start(config);
  await withLogs(() => [daemon], async () => {
    await daemon.waitForLog(/initial sync done/, 60_000);
    await assertConverges(bucket, root);
    for (let i = 0; i < 10; i++) {
      await writeFile(root, `s${i % 7}/f${i}.txt`, `changed ${i}`);
      await writeFile(root, `new/n${i}.txt`, bytes(500 + i, 1000 + i));
      await Deno.remove(`${root}/s${(i + 100) % 7}/f${i + 100}.txt`);
    }
    for (let i = 200; i < 205; i++) {
      await Deno.rename(`${root}/s${i % 7}/f${i}.txt`, `${root}/s${i % 7}/renamed-${i}.txt`);
    }
    await writeFile(root, "big.bin", bytes(12 * MiB, 100));
    await assertConverges(bucket, root);
    assert.ok(proxy.stats.statuses >= 50, `only ${proxy.stats.statuses} answers were 503`);
    // upload_workers "auto" (the default) backs off when the server says "slow down".
    assert.match(daemon.log, /upload concurrency changed.*reason="?throttled: /);
    note(`slowdown: ${proxy.stats.statuses} of ${proxy.stats.requests} requests answered 503`);
  });
  await proxy.close();
});

Deno.test("connections reset in the middle of part uploads: large files arrive whole, no parts left", async () => {
  const root = await tempDir();
  const bucket = await newBucket("resets");
  const sizes = [20 * MiB, 30 * MiB + 12345, 40 * MiB];
  for (const [i, size] of sizes.entries()) {
    await writeFile(root, `big${i}.bin`, bytes(size, 10 + i));
  }
  for (let i = 0; i < 20; i++) await writeFile(root, `small/${i}.txt`, bytes(1000 + i, 50 + i));
  const proxy = await startProxy();
  proxy.set({ resetAfterBytes: 3 * MiB, resetShare: 0.3 });
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    endpoint: proxy.endpoint,
    watch_interval: "200ms",
  }]);
  const daemon = start(config);
  await withLogs(() => [daemon], async () => {
    await assertConverges(bucket, root, 120_000);
    assert.ok(proxy.stats.resets > 0, "no connection was reset");
    note(`resets: ${proxy.stats.resets} of ${proxy.stats.connections} connections reset`);
  });
  await proxy.close();
});

Deno.test("a daemon killed with SIGKILL mid-sync: the next start converges, aborts the orphaned parts, keeps its state store", async () => {
  const root = await tempDir();
  const bucket = await newBucket("killed");
  await writeFile(root, "big0.bin", bytes(24 * MiB, 1));
  await writeFile(root, "big1.bin", bytes(33 * MiB, 2));
  for (let i = 0; i < 200; i++) await writeFile(root, `small/${i}.txt`, bytes(300 + i, 100 + i));
  const proxy = await startProxy();
  // Slow answers keep the multipart uploads open long enough to be caught in the middle.
  proxy.set({ delayMs: 150 });
  const dir = await tempDir();
  const config = await writeConfig(dir, [{
    local_path: root,
    bucket,
    endpoint: proxy.endpoint,
    watch_interval: "200ms",
  }]);
  const daemons = [start(config)];
  await withLogs(() => daemons, async () => {
    await waitFor(
      "a multipart upload under way and some small files uploaded",
      async () =>
        (await pendingUploads(bucket)).length > 0 && (await sortedKeys(bucket)).length > 5,
    );
    assert.equal(await daemons[0]!.stop("SIGKILL"), 137);
    const orphans = await pendingUploads(bucket);
    note(`killed: ${(await sortedKeys(bucket)).length} objects and ${orphans.length} open uploads`);
    proxy.set({});
    daemons.push(start(config));
    await assertConverges(bucket, root);
    // Each left upload is resumed (its record made it to the state store) or aborted.
    if (orphans.length > 0) {
      await daemons[1]!.waitForLog(
        /aborted an unfinished multipart upload|resuming a multipart upload/,
      );
    }
    assert.equal(await daemons[1]!.stop(), 0);
    assert.doesNotMatch(daemons[1]!.log, /state store (unusable|damaged)/);
    const db = new DatabaseSync(`${dir}/state/state.sqlite`, { readOnly: true });
    try {
      assert.deepEqual({ ...db.prepare("PRAGMA integrity_check").get() }, {
        integrity_check: "ok",
      });
    } finally {
      db.close();
    }
    // The daemon agrees: one more pass finds nothing to do.
    const once = await runDaemon(["--config", config, "--once"]);
    assert.equal(once.code, 0, once.stderr);
    assert.match(once.stdout, /uploaded 0 .*deleted 0/);
  });
  await proxy.close();
});

Deno.test("files modified, deleted and renamed while their uploads are in flight: the bucket ends as the folder", async () => {
  const root = await tempDir();
  const bucket = await newBucket("inflight");
  await writeFile(root, "keep.txt", "keep");
  const proxy = await startProxy();
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    endpoint: proxy.endpoint,
    retire_deleted: true,
    watch_interval: "200ms",
  }], { loglevel: "debug" });
  const daemon = start(config);
  await withLogs(() => [daemon], async () => {
    await daemon.waitForLog(/initial sync done/);
    proxy.set({ delayMs: 1500 });
    const names = ["m0", "m1", "m2", "d0", "d1", "d2", "r0", "r1", "r2"].map((n) => `${n}.txt`);
    for (const [i, name] of names.entries()) await writeFile(root, name, bytes(100_000, i));
    await writeFile(root, "big.bin", bytes(20 * MiB, 7));
    for (const name of [...names, "big.bin"]) {
      await daemon.waitForLog(
        new RegExp(`not in the bucket site=\\S+ path=${name.replace(".", "\\.")}`),
      );
    }
    // Every file is now with the upload stage, whose answers take 1.5 s each.
    await writeFile(root, "m0.txt", bytes(100_000, 100)); // same size, new content
    await writeFile(root, "m1.txt", bytes(50_000, 101)); // shorter
    await writeFile(root, "m2.txt", bytes(150_000, 102)); // longer
    for (const n of [0, 1, 2]) await Deno.remove(`${root}/d${n}.txt`);
    for (const n of [0, 1, 2]) await Deno.rename(`${root}/r${n}.txt`, `${root}/moved-r${n}.txt`);
    await writeFile(root, "big.bin", bytes(20 * MiB, 8)); // same size, new content
    await assertConverges(bucket, root);
    await daemon.waitForLog(/uploaded site=\S+ key=big\.bin /);
    const uploads = (name: string) =>
      daemon.log.match(new RegExp(`uploaded site=\\S+ key=${name.replace(".", "\\.")} `, "g"))
        ?.length ?? 0;
    note(
      `in flight: uploads of m0, m1, m2, big.bin: ` +
        ["m0.txt", "m1.txt", "m2.txt", "big.bin"].map(uploads).join(", "),
    );
    proxy.set({});
  });
  await proxy.close();
});

interface SiteState {
  readonly queued: number;
  readonly in_flight: number;
  readonly last_error: string | null;
}

async function siteState(http: string): Promise<SiteState> {
  const response = await fetch(`${http}/info`);
  const body = await response.json();
  return body.SITE_STATES[0];
}

/**
 * The site's folder goes away (`leave`) while the daemon runs with retire_deleted, and comes back
 * (`restore`) with one more file: nothing is deleted meanwhile, /info says why, and the new file
 * arrives once the folder is back.
 */
async function folderGoesAway(
  label: string,
  leave: (root: string) => Promise<void>,
  restore: (root: string) => Promise<void>,
): Promise<void> {
  const root = `${await tempDir()}/site`;
  for (const [rel, content] of Object.entries(FILES)) await writeFile(root, rel, content);
  const bucket = await newBucket(label);
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    retire_deleted: true,
    watch_interval: "200ms",
  }]);
  const port = freePort();
  const http = `http://127.0.0.1:${port}`;
  const daemon = start(config, "--http-host", "127.0.0.1", "--http-port", String(port));
  await withLogs(() => [daemon], async () => {
    await daemon.waitForLog(/initial sync done/);
    await assertConverges(bucket, root);
    const keys = await sortedKeys(bucket);

    await leave(root);
    await waitFor("the site to report the missing folder", async () => {
      const state = await siteState(http);
      return /missing|removed/.test(state.last_error ?? "") && state.queued === 0 &&
        state.in_flight === 0;
    });
    note(`${label}: last_error "${(await siteState(http)).last_error}"`);
    assert.deepEqual(await sortedKeys(bucket), keys);
    assert.doesNotMatch(daemon.log, /INFO +deleted/);

    await restore(root);
    await writeFile(root, "new.txt", "new");
    const back = Date.now();
    await waitFor(
      "new.txt uploaded",
      async () => (await listBucket(bucket)).has("new.txt"),
      120_000,
    );
    note(`${label}: new.txt arrived ${(Date.now() - back) / 1000} s after the folder came back`);
    await assertConverges(bucket, root);
    // The watcher is back too: a later file arrives within seconds, not at the next reconcile.
    await writeFile(root, "later.txt", "later");
    await waitFor("later.txt uploaded", async () => (await listBucket(bucket)).has("later.txt"));
    assert.doesNotMatch(daemon.log, /INFO +deleted/);
  });
}

const FILES: Record<string, string> = {
  "a.txt": "a",
  "b.txt": "b",
  "sub/c.txt": "c",
  "sub/d/e.txt": "e",
};

Deno.test("a removed folder deletes nothing with retire_deleted, is reported, and syncs again when it is back", async () => {
  await folderGoesAway(
    "rmroot",
    (root) => Deno.remove(root, { recursive: true }),
    async (root) => {
      for (const [rel, content] of Object.entries(FILES)) await writeFile(root, rel, content);
    },
  );
});

Deno.test("a folder renamed away deletes nothing with retire_deleted, and syncs again when moved back", async () => {
  await folderGoesAway(
    "mvroot",
    async (root) => {
      await Deno.rename(root, `${root}-away`);
      // Written where the watch may still follow the folder, but no longer under local_path.
      await writeFile(`${root}-away`, "while-away.txt", "away");
    },
    (root) => Deno.rename(`${root}-away`, root),
  );
});

Deno.test("a state directory it may not create: the daemon says so and keeps syncing", async () => {
  const root = await tempDir();
  const bucket = await newBucket("nostate");
  for (let i = 0; i < 20; i++) await writeFile(root, `f${i}.txt`, bytes(100 + i, i));
  const dir = await tempDir();
  const locked = `${dir}/locked`;
  await Deno.mkdir(locked);
  const config = await writeConfig(dir, [{ local_path: root, bucket, watch_interval: "200ms" }], {
    state_dir: `${locked}/state`,
  });
  await Deno.chmod(locked, 0o555);
  const daemon = new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0"], {
    unprivileged: true,
  });
  let stopped = false;
  try {
    await daemon.waitForLog(/state store unusable/);
    await daemon.waitForLog(/initial sync done/);
    await assertConverges(bucket, root);
    await writeFile(root, "later.txt", "written while running");
    await writeFile(root, "f0.txt", "changed");
    await assertConverges(bucket, root);
    stopped = true;
    assert.equal(await daemon.stop(), 0);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- daemon log ---\n${tail(daemon.log, 40)}`, {
      cause: err,
    });
  } finally {
    if (!stopped) await daemon.stop();
    await Deno.chmod(locked, 0o755);
  }
  assert.equal((await Array.fromAsync(Deno.readDir(locked))).length, 0);
});
