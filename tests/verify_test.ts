/**
 * `--verify` and `--once --verify` end to end, against the real server and real folders: the
 * mismatches planted in the bucket with the SDK (behind the daemon's back, some while the state
 * store vouches for the file), the lines and exit codes that report them, and the repair. Also the
 * lock on the state folder, between a running daemon and a `--once`.
 */

import assert from "node:assert/strict";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { StateStore } from "../src/state/store.ts";
import {
  bytes,
  Daemon,
  listBucket,
  newBucket,
  runDaemon,
  tempDir,
  testS3,
  uploadInParts,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { md5, MiB } from "./mirror.ts";

/** The finding lines of a --verify run (summaries left out), sorted. */
function findings(stdout: string): string[] {
  return stdout.split("\n").filter((line) => line && !line.startsWith("summary ")).sort();
}

/** Each site's summary line as fields, by site name. */
function summaries(stdout: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("summary ")) continue;
    const fields = Object.fromEntries(
      line.slice("summary ".length).split(" ").map((field) =>
        field.split("=", 2) as [string, string]
      ),
    );
    out.set(fields.site ?? "", fields);
  }
  return out;
}

/** The counts of a summary that say what was found, without the timing. */
function counts(fields: Record<string, string> | undefined): Record<string, number> {
  assert.ok(fields, "no summary line for the site");
  const { site: _site, seconds: _seconds, hashed_bytes: _hashed, ...rest } = fields;
  return Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, Number(value)]));
}

const ALL_EQUAL = {
  missing: 0,
  extra: 0,
  size: 0,
  content: 0,
  "storage-class": 0,
  "cannot-verify": 0,
  changing: 0,
  kept: 0,
  errors: 0,
};

const put = (
  bucket: string,
  key: string,
  body: string | Uint8Array,
  storageClass?: "STANDARD_IA",
) =>
  testS3().client.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, StorageClass: storageClass }),
  );

const verify = (config: string, ...extra: string[]) =>
  runDaemon(["--config", config, "--verify", ...extra]);

Deno.test("--verify finds every kind of mismatch, even one the state store vouches for, and --once --verify repairs them", async () => {
  const dir = await tempDir();
  const rootA = await tempDir();
  const rootB = await tempDir();
  const bucket = await newBucket("verify");
  // 13 MiB: in 6 MiB parts that is 3 parts, a part count no part size we try gives for 6 MiB.
  const multi = bytes(13 * MiB, 3);
  const files: Record<string, string | Uint8Array> = {
    "same.txt": "same",
    "dir with space/ok.txt": "nested",
    "corrupt.bin": bytes(4096, 2),
    "missing.txt": "gone from the bucket",
    "size.txt": "short",
    "class.txt": "storage class",
    "multi.bin": multi,
    "skip.tmp": "excluded",
  };
  for (const [rel, content] of Object.entries(files)) await writeFile(rootA, rel, content);
  await writeFile(rootB, "b.txt", "b");
  const config = await writeConfig(dir, [
    {
      name: "a",
      local_path: rootA,
      bucket,
      bucket_path: "a",
      retire_deleted: true,
      exclusions: ["\\.tmp$"],
    },
    { name: "b", local_path: rootB, bucket, bucket_path: "b" },
  ]);

  const synced = await runDaemon(["--config", config, "--once"]);
  assert.equal(synced.code, 0, synced.stderr);
  const clean = await verify(config);
  assert.equal(clean.code, 0, clean.stderr + clean.stdout);
  assert.deepEqual(findings(clean.stdout), [], "the excluded skip.tmp is not missing");
  const cleanSummaries = summaries(clean.stdout);
  assert.deepEqual(counts(cleanSummaries.get("a")), { files: 7, equal: 7, ...ALL_EQUAL });
  assert.deepEqual(counts(cleanSummaries.get("b")), { files: 1, equal: 1, ...ALL_EQUAL });
  assert.ok(Number(cleanSummaries.get("a")?.hashed_bytes) >= 13 * MiB, clean.stdout);

  // Other bytes of the same size, while the state store says the file is as last confirmed, with
  // the object's new ETag: what a wrong row (a bug, a restored state folder) looks like.
  const corrupt = bytes(4096, 99);
  await put(bucket, "a/corrupt.bin", corrupt);
  const siteA = { bucket, bucketPath: "a", root: rootA };
  await vouch(`${dir}/state`, siteA, "corrupt.bin", md5(corrupt));
  const trusting = await runDaemon(["--config", config, "--once"]);
  assert.equal(trusting.code, 0, trusting.stderr);
  assert.match(trusting.stdout, /uploaded 0 /, "--once believes the state store");
  assert.equal((await listBucket(bucket)).get("a/corrupt.bin")?.etag, md5(corrupt));

  await testS3().client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "a/missing.txt" }));
  await put(bucket, "a/size.txt", "longer body");
  await put(bucket, "a/class.txt", "storage class", "STANDARD_IA");
  await uploadInParts(bucket, "a/multi.bin", multi, 6 * MiB);
  await put(bucket, "a/orphan.txt", "orphan");
  await put(bucket, "a/skip.tmp", "excluded"); // retire_deleted deletes excluded paths' objects
  await put(bucket, "b/orphan.txt", "kept"); // site b keeps objects whose file is gone

  const bad = await verify(config);
  assert.equal(bad.code, 3, bad.stderr + bad.stdout);
  assert.deepEqual(findings(bad.stdout), [
    'cannot-verify site=a path=multi.bin reason="multipart ETag of 3 parts of a size that ' +
    'cannot be recomputed, and the object has no s3sync-md5 metadata"',
    "content site=a path=corrupt.bin",
    "extra site=a path=orphan.txt size=6",
    "extra site=a path=skip.tmp size=8",
    "missing site=a path=missing.txt size=20",
    "size site=a path=size.txt file=5 object=11",
    "storage-class site=a path=class.txt object=STANDARD_IA expected=STANDARD",
  ]);
  const badSummaries = summaries(bad.stdout);
  assert.deepEqual(counts(badSummaries.get("a")), {
    ...ALL_EQUAL,
    files: 7,
    equal: 2,
    missing: 1,
    extra: 2,
    size: 1,
    content: 1,
    "storage-class": 1,
    "cannot-verify": 1,
  });
  assert.deepEqual(counts(badSummaries.get("b")), { ...ALL_EQUAL, files: 1, equal: 1, kept: 1 });

  const repair = await runDaemon(["--config", config, "--once", "--verify"]);
  assert.equal(repair.code, 0, repair.stderr);
  const listed = await listBucket(bucket);
  assert.equal(listed.get("a/corrupt.bin")?.etag, md5(files["corrupt.bin"]!));
  assert.equal(listed.get("a/missing.txt")?.etag, md5("gone from the bucket"));
  assert.equal(listed.get("a/size.txt")?.etag, md5("short"));
  assert.equal(listed.get("a/class.txt")?.storageClass, "STANDARD");
  assert.match(listed.get("a/multi.bin")?.etag ?? "", /-2$/, "uploaded again in 8 MiB parts");
  assert.equal(listed.has("a/orphan.txt"), false);
  assert.equal(listed.has("a/skip.tmp"), false);
  assert.equal(listed.has("b/orphan.txt"), true);

  const after = await verify(config);
  assert.equal(after.code, 0, after.stderr + after.stdout);
  assert.deepEqual(findings(after.stdout), []);
  assert.deepEqual(counts(summaries(after.stdout).get("a")), { files: 7, equal: 7, ...ALL_EQUAL });
  assert.deepEqual(counts(summaries(after.stdout).get("b")), {
    ...ALL_EQUAL,
    files: 1,
    equal: 1,
    kept: 1,
  });
});

/**
 * Writes the state store's row for `rel` as the daemon does after confirming `etag`. The row's key
 * restates generation.ts's (what the site syncs, joined by spaces); were it to drift, the plain
 * --once above would upload the file and say so.
 */
async function vouch(
  stateDir: string,
  site: { bucket: string; bucketPath: string; root: string },
  rel: string,
  etag: string,
) {
  const info = await Deno.lstat(`${site.root}/${rel}`);
  const store = StateStore.open(stateDir);
  try {
    assert.ok(store.usable);
    const key = [testS3().endpoint, site.bucket, site.bucketPath, site.root].join(" ");
    const stamp = {
      size: info.size,
      mtimeMs: info.mtime?.getTime() ?? 0,
      ctimeMs: info.ctime?.getTime() ?? 0,
      ino: info.ino ?? 0,
    };
    // Taken well after the file's last change, so that the row is not "racily clean".
    const seenAtMs = Math.max(stamp.mtimeMs, stamp.ctimeMs) + 2_000;
    store.forSite(key).put(rel, { ...stamp, etag, seenAtMs });
  } finally {
    store.close();
  }
}

Deno.test("--verify prints an object it cannot verify, and exits 0 when that is all", async () => {
  const dir = await tempDir();
  const root = await tempDir();
  const bucket = await newBucket("unverifiable");
  const data = bytes(13 * MiB, 5);
  await writeFile(root, "other-tool.bin", data);
  await uploadInParts(bucket, "other-tool.bin", data, 6 * MiB);
  const config = await writeConfig(dir, [{ name: "s", local_path: root, bucket }]);

  const result = await verify(config);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.deepEqual(findings(result.stdout).map((line) => line.split(" ", 3).join(" ")), [
    "cannot-verify site=s path=other-tool.bin",
  ]);
  assert.deepEqual(counts(summaries(result.stdout).get("s")), {
    ...ALL_EQUAL,
    files: 1,
    equal: 0,
    "cannot-verify": 1,
  });
  assert.deepEqual(await stateFiles(dir), [], "--verify writes nothing, not even a state store");
});

/** What the run left in the config's state folder. */
async function stateFiles(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(`${dir}/state`))).map((entry) => entry.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

Deno.test("--verify reports a file that keeps changing while it is hashed as changing, not as a mismatch", async () => {
  const dir = await tempDir();
  const root = await tempDir();
  const bucket = await newBucket("changing");
  // Large enough that each hash takes far longer than the writer's pause.
  await writeFile(root, "busy.log", bytes(64 * MiB, 6));
  const config = await writeConfig(dir, [{ name: "s", local_path: root, bucket }]);
  const synced = await runDaemon(["--config", config, "--once"]);
  assert.equal(synced.code, 0, synced.stderr);

  // Rewrites one byte in place, every few ms, until --verify ends: same size, new mtime.
  const file = await Deno.open(`${root}/busy.log`, { write: true });
  let writing = true;
  const writer = (async () => {
    for (let n = 0; writing; n++) {
      await file.seek(0, Deno.SeekMode.Start);
      await file.write(new Uint8Array([n & 0xff]));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  let result;
  try {
    result = await verify(config);
  } finally {
    writing = false;
    await writer;
    file.close();
  }
  assert.equal(result.code, 0, result.stderr + result.stdout);
  assert.deepEqual(findings(result.stdout), ["changing site=s path=busy.log"]);
  const summary = summaries(result.stdout).get("s");
  assert.deepEqual(counts(summary), { ...ALL_EQUAL, files: 1, equal: 0, changing: 1 });
  assert.ok(Number(summary?.hashed_bytes) >= 3 * 64 * MiB, "hashed on each of its three tries");
});

Deno.test("--verify exits 1 when it cannot read a folder or list a bucket, and calls nothing under that folder extra", async () => {
  const dir = await tempDir();
  const root = await tempDir();
  const bucket = await newBucket("unreadable");
  await writeFile(root, "ok.txt", "ok");
  await writeFile(root, "locked/inside.txt", "inside");
  const config = await writeConfig(dir, [
    { name: "s", local_path: root, bucket, retire_deleted: true },
  ]);
  const synced = await runDaemon(["--config", config, "--once"]);
  assert.equal(synced.code, 0, synced.stderr);
  await put(bucket, "elsewhere.txt", "extra"); // a mismatch found too: 1 still wins over 3
  await Deno.chmod(`${root}/locked`, 0o000);
  try {
    const result = await runDaemon(["--config", config, "--verify"], { unprivileged: true });
    assert.equal(result.code, 1, result.stderr + result.stdout);
    assert.match(result.stderr, /ERROR Cannot read "locked": permission denied site=s/);
    assert.deepEqual(findings(result.stdout), ["extra site=s path=elsewhere.txt size=5"]);
    assert.deepEqual(counts(summaries(result.stdout).get("s")), {
      ...ALL_EQUAL,
      files: 1,
      equal: 1,
      extra: 1,
      errors: 1,
    });
  } finally {
    await Deno.chmod(`${root}/locked`, 0o755);
  }

  const missing = await writeConfig(await tempDir(), [
    { name: "gone", local_path: root, bucket: `${bucket}-missing` },
  ]);
  const unlisted = await verify(missing);
  assert.equal(unlisted.code, 1, unlisted.stderr + unlisted.stdout);
  assert.match(unlisted.stderr, /ERROR .*site=gone/);
  assert.equal(summaries(unlisted.stdout).get("gone")?.errors, "1");
});

Deno.test("a --once beside a running daemon is refused by the state folder's lock, until the daemon is killed", async () => {
  const dir = await tempDir();
  const root = await tempDir();
  const bucket = await newBucket("lock");
  await writeFile(root, "a.txt", "a");
  const config = await writeConfig(dir, [{ name: "s", local_path: root, bucket }]);
  const daemon = new Daemon(["--config", config, "--http-port", "0", "--metrics-port", "0"]);
  try {
    await daemon.waitForLog(/initial sync done/);
    const refused = await runDaemon(["--config", config, "--once"]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(
      refused.stderr.trim(),
      `s3sync-service: State folder "${dir}/state" is in use by another process ` +
        `(pid ${daemon.pid}): two writers on one state folder would race. Stop that one first, ` +
        `or give this config its own state_dir`,
    );
    // --dry-run changes nothing in the bucket, but records in the state store what it hashed.
    for (const extra of [["--once", "--verify"], ["--dry-run"]]) {
      const writer = await runDaemon(["--config", config, ...extra]);
      assert.equal(writer.code, 1, `${extra.join(" ")} writes the state store: ${writer.stderr}`);
      assert.match(writer.stderr, /is in use by another process/);
    }
    // --verify alone opens no state store, and needs no lock.
    const verified = await verify(config);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
  } finally {
    await daemon.stop("SIGKILL");
  }
  // The lock died with its holder: no stale lock to clean up by hand.
  const after = await runDaemon(["--config", config, "--once"]);
  assert.equal(after.code, 0, after.stderr);
  assert.match(await Deno.readTextFile(`${dir}/state/lock`), /^\d+\n$/);
});
