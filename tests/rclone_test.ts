/**
 * Our objects as Debian's rclone (1.60) sees them, on the real server: after a sync, `rclone lsl`
 * shows each object with its file's mtime (read from our `mtime` metadata), and `rclone check`
 * compares every file by MD5, multipart objects included (through our `md5chksum` metadata), and
 * finds no difference. Skipped, and named so, where /usr/bin/rclone is missing (CI installs it).
 */

import assert from "node:assert/strict";
import { PART_SIZE } from "../src/pipeline/etag.ts";
import { bytes, newBucket, runDaemon, tempDir, testS3, writeConfig, writeFile } from "./helpers.ts";
import { md5 } from "./mirror.ts";

const RCLONE = "/usr/bin/rclone";
const hasRclone = (() => {
  try {
    return Deno.statSync(RCLONE).isFile;
  } catch {
    return false;
  }
})();

/** Runs rclone with a remote `s3t` on the test server, configured only through its environment. */
async function rclone(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const s3 = testS3();
  const home = await tempDir();
  // A clean environment: rclone 1.60 refuses the machine's AWS_CA_BUNDLE, and must not read a
  // user's own rclone.conf.
  const out = await new Deno.Command(RCLONE, {
    args: [...args, "--config", `${home}/rclone.conf`],
    clearEnv: true,
    env: {
      HOME: home,
      TZ: "UTC",
      RCLONE_CONFIG_S3T_TYPE: "s3",
      RCLONE_CONFIG_S3T_PROVIDER: "Ceph",
      RCLONE_CONFIG_S3T_ENDPOINT: s3.endpoint,
      RCLONE_CONFIG_S3T_ACCESS_KEY_ID: s3.accessKey,
      RCLONE_CONFIG_S3T_SECRET_ACCESS_KEY: s3.secretKey,
      RCLONE_CONFIG_S3T_REGION: "us-east-1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, out: decoder.decode(out.stdout), err: decoder.decode(out.stderr) };
}

/** `rclone lsl` as a map from path to the date and time it prints (nanoseconds, UTC). */
async function lsl(target: string): Promise<Map<string, string>> {
  const run = await rclone("lsl", target);
  assert.equal(run.code, 0, run.err);
  const listed = new Map<string, string>();
  for (const line of run.out.split("\n").filter((l) => l.trim())) {
    const match = /^\s*\d+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}) (.+)$/.exec(line);
    assert.ok(match, `unexpected rclone lsl line: ${line}`);
    listed.set(match[2]!, match[1]!);
  }
  return listed;
}

/** How rclone prints a time of whole milliseconds: "2017-07-14 02:40:00.123000000". */
const printed = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "000000");

Deno.test({
  name: "rclone lsl shows our objects with their files' mtimes, and rclone check finds no " +
    "difference, multipart and renamed ones included" +
    (hasRclone ? "" : ` (skipped: no ${RCLONE})`),
  ignore: !hasRclone,
  fn: async () => {
    const root = await tempDir();
    const bucket = await newBucket("rclone");
    const files: Record<string, [string | Uint8Array, number]> = {
      "top.txt": ["top", 1_300_000_000_001],
      "docs/readme.md": ["# readme", 1_400_000_000_250],
      "docs/deep/note.txt": ["a note", 1_500_000_000_999],
      "media/big.bin": [bytes(PART_SIZE + 2 * 1024 * 1024 + 17, 51), 1_600_000_000_123],
    };
    for (const [rel, [content, mtimeMs]] of Object.entries(files)) {
      await writeFile(root, rel, content);
      await Deno.utime(`${root}/${rel}`, new Date(), new Date(mtimeMs));
    }
    const config = await writeConfig(await tempDir(), [{
      local_path: root,
      bucket,
      retire_deleted: true,
    }]);
    const run = await runDaemon(["--config", config, "--once"]);
    assert.equal(run.code, 0, run.stderr);
    // A rename is a copy inside the bucket (the state store finds the inode under its old name),
    // and the copy keeps the source's metadata: the same bytes, and mv keeps the mtime.
    await Deno.rename(`${root}/docs/readme.md`, `${root}/docs/renamed.md`);
    files["docs/renamed.md"] = files["docs/readme.md"]!;
    delete files["docs/readme.md"];
    const again = await runDaemon(["--config", config, "--once"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /uploaded 0 .* copied 1, deleted 1,/);

    const remote = await lsl(`s3t:${bucket}`);
    const local = await lsl(root);
    const expected = new Map(Object.entries(files).map(([rel, [, ms]]) => [rel, printed(ms)]));
    assert.deepEqual(local, expected, "rclone reads the local mtimes we set");
    assert.deepEqual(remote, expected, "rclone reads each object's mtime from our metadata");

    // The multipart object's MD5 comes from md5chksum: its ETag is not an MD5.
    const sums = await rclone("md5sum", `s3t:${bucket}/media`);
    assert.equal(sums.code, 0, sums.err);
    assert.equal(sums.out.trim(), `${md5(files["media/big.bin"]![0])}  big.bin`);

    const check = await rclone("check", root, `s3t:${bucket}`);
    assert.equal(check.code, 0, check.err);
    assert.match(check.err, /: 0 differences found/);
    assert.match(check.err, new RegExp(`: ${Object.keys(files).length} matching files`));
    assert.doesNotMatch(check.err, /hashes could not be checked/);
  },
});
