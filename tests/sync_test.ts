/**
 * The initial reconcile, end to end: the daemon run with --once (and --dry-run) on real folders
 * against the real server, asserting the bucket's contents and the summary it prints.
 */

import assert from "node:assert/strict";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { MiB, PART_SIZE } from "../src/pipeline/etag.ts";
import {
  bytes,
  listBucket,
  newBucket,
  pastTimestampGranule,
  runDaemon,
  sortedKeys,
  tempDir,
  testS3,
  uploadInParts,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { md5 } from "./mirror.ts";

/** Parses the --once summary line into numbers. */
function summary(stdout: string): Record<string, number> {
  const m =
    /checked (\d+) files, uploaded (\d+) \((\d+) bytes\), copied (\d+), deleted (\d+), errors (\d+), failed jobs (\d+)/
      .exec(stdout);
  assert.ok(m, `no summary in output:\n${stdout}`);
  const [checked, uploaded, bytes, copied, deleted, errors, failed] = m.slice(1).map(Number);
  return { checked, uploaded, bytes, copied, deleted, errors, failed } as Record<string, number>;
}

async function once(config: string, ...extra: string[]) {
  const result = await runDaemon(["--config", config, "--once", ...extra]);
  return { ...result, summary: summary(result.stdout) };
}

async function site(sites: Record<string, unknown>[], global: Record<string, unknown> = {}) {
  const dir = await tempDir();
  return await writeConfig(dir, sites, global);
}

Deno.test("--once uploads a nested tree with odd names, and nothing on the second run", async () => {
  const root = await tempDir();
  const bucket = await newBucket("tree");
  const files: Record<string, string | Uint8Array> = {
    "top.txt": "top",
    "a/b/c/deep.txt": "deep",
    "with space/ünïcødé ✓.md": "unicode",
    "plus+and%percent/hash#tag.txt": "odd",
    "empty.txt": "",
    "big/over-threshold.bin": bytes(PART_SIZE + 3 * MiB, 11),
  };
  for (const [rel, content] of Object.entries(files)) await writeFile(root, rel, content);
  const config = await site([{ local_path: root, bucket, bucket_path: "backup" }]);

  const first = await once(config);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.summary.uploaded, 6);
  const listed = await listBucket(bucket);
  assert.deepEqual(
    [...listed.keys()].sort(),
    Object.keys(files).map((rel) => `backup/${rel}`).sort(),
  );
  assert.equal(listed.get("backup/top.txt")?.etag, md5("top"));
  assert.match(listed.get("backup/big/over-threshold.bin")?.etag ?? "", /-2$/);
  assert.match(first.stderr, /INFO {2}uploaded site=.* key=backup\/top.txt size=3 ms=\d+/);

  const second = await once(config);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual({ uploaded: second.summary.uploaded, checked: second.summary.checked }, {
    uploaded: 0,
    checked: 6,
  });
});

Deno.test("--once re-uploads a file changed without changing its size", async () => {
  const root = await tempDir();
  const bucket = await newBucket("samesize");
  await writeFile(root, "f.txt", "aaaa");
  await writeFile(root, "g.txt", "keep");
  const config = await site([{ local_path: root, bucket }]);
  assert.equal((await once(config)).code, 0);
  await writeFile(root, "f.txt", "bbbb");
  const second = await once(config);
  assert.equal(second.summary.uploaded, 1);
  assert.equal((await listBucket(bucket)).get("f.txt")?.etag, md5("bbbb"));
});

Deno.test("--once re-uploads a same-size rewrite that put its mtime back, also after a restart", async () => {
  const root = await tempDir();
  const bucket = await newBucket("samestamp");
  await writeFile(root, "f.bin", "aaaa");
  const { atime, mtime } = await Deno.lstat(`${root}/f.bin`);
  const config = await site([{ local_path: root, bucket }]);
  assert.equal((await once(config)).summary.uploaded, 1);
  // As `cp -p` or `rsync -t` do: new bytes, the old date. Within the same second as the row the
  // first run recorded, the file's stamp (size, mtime, ctime in whole seconds, inode) is unchanged.
  await writeFile(root, "f.bin", "bbbb");
  await Deno.utime(`${root}/f.bin`, atime!, mtime!);
  const second = await once(config);
  assert.equal(second.summary.uploaded, 1, second.stderr);
  assert.equal((await listBucket(bucket)).get("f.bin")?.etag, md5("bbbb"));
});

Deno.test("--once recognises objects other tools uploaded with 5 MiB and 8 MiB parts", async () => {
  const root = await tempDir();
  const bucket = await newBucket("foreign");
  const a = bytes(21 * MiB + 7, 21);
  const b = bytes(19 * MiB, 19);
  await writeFile(root, "five.bin", a);
  await writeFile(root, "eight.bin", b);
  await uploadInParts(bucket, "five.bin", a, 5 * MiB);
  await uploadInParts(bucket, "eight.bin", b, 8 * MiB);
  const before = await listBucket(bucket);
  assert.match(before.get("five.bin")?.etag ?? "", /-5$/);
  assert.match(before.get("eight.bin")?.etag ?? "", /-3$/);
  const result = await once(await site([{ local_path: root, bucket }]));
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.summary.uploaded, 0);
  assert.deepEqual(await listBucket(bucket), before);
});

Deno.test("--once changes a drifted storage class with a copy, without re-sending data", async () => {
  const root = await tempDir();
  const bucket = await newBucket("class");
  await writeFile(root, "doc.txt", "content");
  await testS3().client.send(
    new PutObjectCommand({ Bucket: bucket, Key: "doc.txt", Body: "content" }),
  );
  const config = await site([{ local_path: root, bucket, storage_class: "STANDARD_IA" }]);
  const result = await once(config);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual([result.summary.uploaded, result.summary.copied, result.summary.bytes], [
    0,
    1,
    0,
  ]);
  const object = (await listBucket(bucket)).get("doc.txt");
  assert.equal(object?.storageClass, "STANDARD_IA");
  assert.equal(object?.etag, md5("content"));
  assert.equal((await once(config)).summary.copied, 0);
});

Deno.test("--once deletes remote-only keys only with retire_deleted", async () => {
  const root = await tempDir();
  const bucket = await newBucket("retire");
  await writeFile(root, "kept.txt", "kept");
  const client = testS3().client;
  for (const key of ["p/gone.txt", "p/dir/gone2.txt", "outside.txt"]) {
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "x" }));
  }
  const keep = await once(await site([{ local_path: root, bucket, bucket_path: "p" }]));
  assert.equal(keep.summary.deleted, 0);
  assert.deepEqual(await sortedKeys(bucket), [
    "outside.txt",
    "p/dir/gone2.txt",
    "p/gone.txt",
    "p/kept.txt",
  ]);

  const retire = await once(
    await site([{ local_path: root, bucket, bucket_path: "p", retire_deleted: true }]),
  );
  assert.equal(retire.summary.deleted, 2);
  assert.deepEqual(await sortedKeys(bucket), ["outside.txt", "p/kept.txt"]);
});

Deno.test("--once keeps a site at data apart from its neighbour data2", async () => {
  const one = await tempDir();
  const two = await tempDir();
  const bucket = await newBucket("neighbours");
  await writeFile(one, "a.txt", "one");
  await writeFile(two, "b.txt", "two");
  const config = await site([
    { local_path: one, bucket, bucket_path: "data", retire_deleted: true },
    { local_path: two, bucket, bucket_path: "data2", retire_deleted: true },
  ]);
  const result = await once(config);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await sortedKeys(bucket), ["data/a.txt", "data2/b.txt"]);
  assert.equal((await once(config)).summary.deleted, 0);
  assert.deepEqual(await sortedKeys(bucket), ["data/a.txt", "data2/b.txt"]);
});

Deno.test("--once applies inclusions and exclusions, and exclusions win", async () => {
  const root = await tempDir();
  const bucket = await newBucket("filters");
  for (const rel of ["a.jpg", "b.txt", "cache/c.jpg", ".DS_Store", "d/e.jpg"]) {
    await writeFile(root, rel, rel);
  }
  await testS3().client.send(
    new PutObjectCommand({ Bucket: bucket, Key: "cache/old.jpg", Body: "x" }),
  );
  const result = await once(
    await site([{
      local_path: root,
      bucket,
      retire_deleted: true,
      inclusions: ["\\.jpg$"],
      exclusions: ["^cache/", ".[Dd][Ss]_[Ss]tore"],
    }]),
  );
  assert.equal(result.code, 0, result.stderr);
  // Excluded files count as absent: with retire_deleted their objects go too.
  assert.deepEqual(await sortedKeys(bucket), ["a.jpg", "d/e.jpg"]);
});

Deno.test("--once syncs two sites with different buckets and prefixes in one process", async () => {
  const one = await tempDir();
  const two = await tempDir();
  const [b1, b2] = [await newBucket("two-a"), await newBucket("two-b")];
  await writeFile(one, "x/1.txt", "1");
  await writeFile(two, "2.txt", "2");
  const result = await once(
    await site([
      { local_path: one, bucket: b1 },
      { local_path: two, bucket: b2, bucket_path: "/nested/path" },
    ]),
  );
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await sortedKeys(b1), ["x/1.txt"]);
  assert.deepEqual(await sortedKeys(b2), ["nested/path/2.txt"]);
});

Deno.test("--dry-run prints the plan and changes nothing", async () => {
  const root = await tempDir();
  const bucket = await newBucket("dryrun");
  await writeFile(root, "new.txt", "new");
  await writeFile(root, "drift.txt", "drift");
  const client = testS3().client;
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: "drift.txt", Body: "drift" }));
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: "old.txt", Body: "old" }));
  const before = await listBucket(bucket);
  const config = await site([{
    local_path: root,
    bucket,
    retire_deleted: true,
    storage_class: "STANDARD_IA",
  }]);
  const result = await runDaemon(["--config", config, "--dry-run"]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^would upload "new.txt" \(3 bytes\)$/m);
  assert.match(result.stdout, /^would change the storage class of "drift.txt" to STANDARD_IA$/m);
  assert.match(result.stdout, /^would delete "old.txt"$/m);
  assert.deepEqual(await listBucket(bucket), before);
});

Deno.test("--once deletes nothing when local_path is missing, and exits 1", async () => {
  const root = await tempDir();
  const bucket = await newBucket("missing");
  await testS3().client.send(
    new PutObjectCommand({ Bucket: bucket, Key: "precious.txt", Body: "x" }),
  );
  const config = await site([{ local_path: `${root}/not-mounted`, bucket, retire_deleted: true }]);
  const result = await once(config);
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /Local folder ".*not-mounted" is missing, not a folder or unreadable/,
  );
  assert.deepEqual(await sortedKeys(bucket), ["precious.txt"]);
});

Deno.test("--once deletes nothing when local_path is an empty folder (an unmounted disk)", async () => {
  const root = await tempDir();
  const bucket = await newBucket("emptyroot");
  await testS3().client.send(
    new PutObjectCommand({ Bucket: bucket, Key: "precious.txt", Body: "x" }),
  );
  const result = await once(await site([{ local_path: root, bucket, retire_deleted: true }]));
  assert.match(result.stderr, /local folder is empty but the bucket is not; deleting nothing/);
  assert.deepEqual(await sortedKeys(bucket), ["precious.txt"]);
});

Deno.test("--once counts an unreadable file, syncs the rest, and exits 1", async () => {
  const root = await tempDir();
  const bucket = await newBucket("unreadable");
  await writeFile(root, "ok.txt", "ok");
  await writeFile(root, "secret.txt", "no");
  await writeFile(root, "locked/inside.txt", "no");
  await Deno.chmod(`${root}/secret.txt`, 0o000);
  await Deno.chmod(`${root}/locked`, 0o000);
  const config = await site([{ local_path: root, bucket }]);
  const { code, stderr } = await runDaemon(["--config", config, "--once"], { unprivileged: true });
  await Deno.chmod(`${root}/locked`, 0o755);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /Cannot read "locked": permission denied/);
  assert.match(stderr, /Cannot sync "secret.txt": permission denied/);
  assert.deepEqual(await sortedKeys(bucket), ["ok.txt"]);
});

Deno.test("--once skips symlinks, FIFOs and sockets, and never reads outside the folder", async () => {
  const root = await tempDir();
  const outside = await tempDir();
  const bucket = await newBucket("special");
  await writeFile(root, "real.txt", "real");
  await writeFile(outside, "private.txt", "private");
  await Deno.symlink(`${outside}/private.txt`, `${root}/link.txt`);
  await Deno.symlink(outside, `${root}/linked-dir`);
  const fifo = await new Deno.Command("mkfifo", { args: [`${root}/pipe`] }).output();
  assert.ok(fifo.success);
  const socket = Deno.listen({ transport: "unix", path: `${root}/socket` });
  const result = await once(await site([{ local_path: root, bucket }], { loglevel: "debug" }));
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await sortedKeys(bucket), ["real.txt"]);
  assert.match(result.stderr, /skipping a symlink or special file path=link.txt/);
  assert.match(result.stderr, /skipping a symlink or special file path=pipe/);
  assert.match(result.stderr, /skipping a symlink or special file path=socket/);
  socket.close();
});

Deno.test("--once hashes unchanged files only once: the state store remembers them", async () => {
  const root = await tempDir();
  const bucket = await newBucket("state");
  for (let i = 0; i < 5; i++) await writeFile(root, `f${i}.txt`, `file ${i}`);
  // A row taken within the second of a file's change is not trusted (README: the ctime note).
  await pastTimestampGranule(`${root}/f4.txt`);
  // Objects put by another tool: the first run must compare contents, later ones need not.
  for (let i = 0; i < 5; i++) {
    await testS3().client.send(
      new PutObjectCommand({ Bucket: bucket, Key: `f${i}.txt`, Body: `file ${i}` }),
    );
  }
  const config = await site([{ local_path: root, bucket }], { loglevel: "debug" });
  const comparisons = (stderr: string) => (stderr.match(/comparing content/g) ?? []).length;
  const first = await once(config);
  assert.equal(first.summary.uploaded, 0);
  assert.equal(comparisons(first.stderr), 5);
  const second = await once(config);
  assert.equal(comparisons(second.stderr), 0);
  // A touched file (new mtime, same content) is suspect again; its content still matches.
  await Deno.utime(`${root}/f0.txt`, new Date(), new Date(Date.now() - 86_400_000));
  await pastTimestampGranule(`${root}/f0.txt`);
  const third = await once(config);
  assert.equal(comparisons(third.stderr), 1);
  assert.equal(third.summary.uploaded, 0);
  assert.equal(comparisons((await once(config)).stderr), 0);
  // Without the store, everything is compared again, and still nothing is uploaded.
  await Deno.remove(`${config.slice(0, config.lastIndexOf("/"))}/state`, { recursive: true });
  const fourth = await once(config);
  assert.equal(comparisons(fourth.stderr), 5);
  assert.equal(fourth.summary.uploaded, 0);
});

Deno.test("--once reports a file whose key would be too long for S3, and syncs the rest", async () => {
  const root = await tempDir();
  const bucket = await newBucket("longkey");
  const long = `${"d".repeat(200)}/${"d".repeat(200)}/${"d".repeat(200)}/${"d".repeat(200)}/${
    "f".repeat(250)
  }.txt`;
  await writeFile(root, long, "too long");
  await writeFile(root, "ok.txt", "ok");
  const result = await once(await site([{ local_path: root, bucket }]));
  assert.equal(result.code, 1);
  assert.match(
    result.stderr,
    /Cannot sync "d{200}.*": its key would be 1058 bytes long; S3 allows at most 1024/,
  );
  assert.deepEqual(await sortedKeys(bucket), ["ok.txt"]);
});

Deno.test("--once reports a file name that is not valid UTF-8, and syncs the rest", async () => {
  const root = await tempDir();
  const bucket = await newBucket("badname");
  await writeFile(root, "ok.txt", "ok");
  // Bytes 0xFF 0xFE are not UTF-8; only a raw byte path can create such a name.
  const made = await new Deno.Command("python3", {
    args: ["-c", `open(b"${root}/bad\\xff\\xfename.txt", "wb").write(b"x")`],
  }).output();
  assert.ok(made.success, new TextDecoder().decode(made.stderr));
  const result = await once(await site([{ local_path: root, bucket }]));
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Cannot read "bad\uFFFD\uFFFDname.txt": its name is not valid UTF-8/);
  assert.deepEqual(await sortedKeys(bucket), ["ok.txt"]);
});

Deno.test("--once syncs a file 300 folders deep", async () => {
  const root = await tempDir();
  const bucket = await newBucket("deep");
  const deep = Array.from({ length: 300 }, (_, i) => `${i % 10}`).join("/");
  await writeFile(root, `${deep}/bottom.txt`, "bottom");
  await writeFile(root, "top.txt", "top");
  const result = await once(await site([{ local_path: root, bucket }]));
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await sortedKeys(bucket), [`${deep}/bottom.txt`, "top.txt"]);
});

Deno.test("--once re-uploads once an object whose part layout it cannot recompute, then leaves it", async () => {
  const root = await tempDir();
  const bucket = await newBucket("oddparts");
  const data = bytes(20 * MiB, 33);
  await writeFile(root, "odd.bin", data);
  // 5.5 MiB parts: no uploader we know uses them, so the ETag cannot be matched.
  await uploadInParts(bucket, "odd.bin", data, 5.5 * MiB);
  assert.match((await listBucket(bucket)).get("odd.bin")?.etag ?? "", /-4$/);
  const config = await site([{ local_path: root, bucket }]);
  assert.equal((await once(config)).summary.uploaded, 1);
  assert.match((await listBucket(bucket)).get("odd.bin")?.etag ?? "", /-3$/);
  assert.equal((await once(config)).summary.uploaded, 0);
  // Even without the state store, our own layout is recognised from the ETag alone.
  await Deno.remove(`${config.slice(0, config.lastIndexOf("/"))}/state`, { recursive: true });
  assert.equal((await once(config)).summary.uploaded, 0);
});
