/**
 * `--json` end to end, against the real server: `--once --json` and `--verify --json` print one
 * JSON object on stdout and nothing else (logs, findings and progress stay on stderr), and `--json`
 * without a run that ends is refused as bad flags.
 */

import assert from "node:assert/strict";
import { newBucket, runDaemon, sortedKeys, tempDir, writeConfig, writeFile } from "./helpers.ts";

/** stdout as exactly one JSON object on one line. */
function oneObject(stdout: string): Record<string, unknown> {
  const lines = stdout.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, `stdout is not one line: ${JSON.stringify(stdout)}`);
  const parsed = JSON.parse(lines[0]!);
  assert.ok(parsed && typeof parsed === "object" && !Array.isArray(parsed), lines[0]);
  return parsed;
}

Deno.test("--once --json prints one JSON summary on stdout, and --verify --json the totals", async () => {
  const dir = await tempDir();
  const root = await tempDir();
  const bucket = await newBucket("progress");
  const files: Record<string, string> = {
    "a.txt": "alpha",
    "sub/b.txt": "bravo!",
    "sub/deeper/c.txt": "charlie",
  };
  for (const [rel, content] of Object.entries(files)) await writeFile(root, rel, content);
  const config = await writeConfig(dir, [{ name: "s", local_path: root, bucket }]);

  const once = await runDaemon(["--config", config, "--once", "--json"]);
  assert.equal(once.code, 0, once.stderr);
  const summary = oneObject(once.stdout);
  const { seconds, ...counts } = summary;
  assert.equal(typeof seconds, "number");
  assert.deepEqual(counts, {
    mode: "once",
    checked: 3,
    uploaded: 3,
    uploaded_bytes: 5 + 6 + 7,
    copied: 0,
    deleted: 0,
    errors: 0,
    failed_jobs: 0,
    exit_code: 0,
  });
  assert.deepEqual(await sortedKeys(bucket), ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]);
  // The logs are where they always were; without a terminal a short run logs no progress line.
  assert.match(once.stderr, /INFO +starting /);
  assert.doesNotMatch(once.stderr, /\r/, "no status line without a terminal");

  // A second run finds everything in place; a finding of --verify goes to stderr, not stdout.
  await writeFile(root, "new.txt", "not uploaded yet");
  const verify = await runDaemon(["--config", config, "--verify", "--json"]);
  assert.equal(verify.code, 3, verify.stderr + verify.stdout);
  const totals = oneObject(verify.stdout);
  assert.equal(totals.mode, "verify");
  assert.equal(totals.files, 4);
  assert.equal(totals.equal, 3);
  assert.equal(totals.missing, 1);
  assert.equal(totals.mismatches, 1);
  assert.equal(totals.errors, 0);
  assert.equal(totals.exit_code, 3);
  assert.equal((totals.sites as unknown[]).length, 1);
  assert.match(verify.stderr, /^missing site=s path=new\.txt size=16$/m);

  const dry = await runDaemon(["--config", config, "--dry-run", "--json"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(oneObject(dry.stdout).mode, "dry-run");
  assert.match(dry.stderr, /^would upload "new\.txt" \(16 bytes\)$/m, "the plan is on stderr");
});

Deno.test("--json without --once, --dry-run or --verify is refused as bad flags", async () => {
  const result = await runDaemon(["--config", "/nonexistent.yml", "--json"]);
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /--json needs --once, --dry-run or --verify/);
});
