/**
 * Distribution: the release build (`deno task compile`) embeds the program and its npm packages,
 * and the program runs from a single file outside the source tree, with a clean environment and
 * only the `start` task's permissions, through a real sync.
 *
 * Here `deno compile` cannot download its runtime (denort), so the compile check uses the `deno`
 * binary itself as DENORT_BIN: the build and its embedded-file listing are real, but an executable
 * glued onto the full `deno` starts as `deno`, not as the daemon. The bundle check is the one that
 * runs the program detached from the tree.
 * @module
 */

import assert from "node:assert/strict";
import {
  outputName,
  startTaskPermissions,
  type Target,
  TARGETS,
  workerModules,
} from "../scripts/compile.ts";
import { newBucket, sortedKeys, tempDir, writeConfig, writeFile } from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return JSON.parse(decoder.decode(out.stdout)).denoDir;
}

Deno.test("deno task compile builds the host target with the npm packages embedded", async () => {
  const target = Deno.build.target as Target;
  assert.ok(TARGETS.includes(target), `host target ${target} is not a release target`);
  const outDir = await tempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile", "--target", target, "--out-dir", outDir],
      cwd: ROOT,
      env: { DENORT_BIN: Deno.execPath(), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
    assert.equal(out.code, 0, text);
    // The "Embedded Files" tree of `deno compile`: one line per npm package (scopes nest).
    assert.match(text, /Embedded Files/);
    assert.match(text, /\.deno_compile_node_modules/);
    assert.match(text, /@aws-sdk \(/);
    assert.match(text, /client-s3\/\* \(/);
    assert.match(text, /[─ ]yaml\/[\d.]+\/\* \(/);
    assert.match(text, /prom-client\/[\d.]+\/\* \(/);
    // Worker modules are loaded by URL, so only --include puts them in.
    for (const worker of await workerModules()) {
      const name = worker.slice(worker.lastIndexOf("/") + 1);
      assert.match(text, new RegExp(`[─ ]${name.replaceAll(".", "\\.")} \\(`), `${name} embedded`);
    }
    assert.match(text, /Building \S+ with --allow-read/);
    // The permissions baked in are the start task's.
    assert.ok(text.includes(`with ${startTaskPermissions().join(" ")}\n`), text);

    const { version } = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
    const name = outputName(version, target);
    const binary = await Deno.stat(`${outDir}/${name}`);
    assert.ok(binary.isFile && binary.size > 1_000_000);
    assert.ok((binary.mode ?? 0) & 0o100, "the executable is executable");
    const sums = await Deno.readTextFile(`${outDir}/SHA256SUMS`);
    assert.match(sums, new RegExp(`^[0-9a-f]{64}  ${name.replaceAll(".", "\\.")}\n$`));
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("the bundled daemon syncs from an empty folder with a clean environment", async () => {
  const work = await tempDir();
  try {
    const build = `${work}/build`;
    const run = `${work}/run`;
    const home = `${work}/home`;
    const local = `${work}/local`;
    await Promise.all([run, home].map((dir) => Deno.mkdir(dir, { recursive: true })));

    const bundled = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "deno", "--output", `${build}/s3sync.js`, "main.ts"],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(bundled.code, 0, decoder.decode(bundled.stderr));
    // Only the bundle goes to the folder the daemon runs in: no deno.json, src/ or node_modules.
    await Deno.copyFile(`${build}/s3sync.js`, `${run}/s3sync.js`);

    const bucket = await newBucket("dist");
    await writeFile(local, "a.txt", "alpha");
    await writeFile(local, "docs/b.md", "# beta");
    const config = await writeConfig(work, [
      { local_path: local, bucket, bucket_path: "site", retire_deleted: true },
    ]);

    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...startTaskPermissions(), "s3sync.js", "--config", config, "--once"],
      cwd: run,
      clearEnv: true,
      // HOME is a fresh folder, so nothing of the user's (~/.aws, a state folder) is read;
      // DENO_DIR keeps Deno's cache where it is, so nothing is downloaded.
      env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: home, DENO_DIR: await denoDir() },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = decoder.decode(out.stdout) + decoder.decode(out.stderr);
    assert.equal(out.code, 0, log);
    assert.match(decoder.decode(out.stdout), /uploaded 2 /);
    assert.deepEqual(await sortedKeys(bucket), ["site/a.txt", "site/docs/b.md"]);
    assert.deepEqual([...Deno.readDirSync(run)].map((entry) => entry.name), ["s3sync.js"]);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
