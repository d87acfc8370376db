/**
 * Go (RE2) patterns end to end: exclusions that the old translation to JS RegExp refused (nested
 * repetition, Unicode classes, \z, mid-pattern flags) select exactly the files Go would, against
 * the real server.
 */

import assert from "node:assert/strict";
import { newBucket, runDaemon, sortedKeys, tempDir, writeConfig, writeFile } from "./helpers.ts";

Deno.test("--once honours RE2-only exclusions: (?i), \\z, \\p{Greek}, nested repetition", async () => {
  const root = await tempDir();
  const bucket = await newBucket("re2");
  const files = [
    "keep.txt",
    "photos/x.JPG",
    "scratch.TMP", // (?i)\.tmp\z
    "notes.tmp.txt", // kept: \z anchors at the very end
    "λόγος.md", // \p{Greek}
    "logs/logs/app.log", // ^(logs/)+
    "aaaa", // (a+)+$: linear in RE2, exponential in a backtracking engine
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", // ...which must not stall on this one
  ];
  for (const rel of files) await writeFile(root, rel, rel);
  const exclusions = ["(?i)\\.tmp\\z", "\\p{Greek}", "^(logs/)+", "^(a+)+$"];
  const config = await writeConfig(await tempDir(), [{ local_path: root, bucket, exclusions }]);
  const result = await runDaemon(["--config", config, "--once"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await sortedKeys(bucket), [
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    "keep.txt",
    "notes.tmp.txt",
    "photos/x.JPG",
  ]);
});
