// deno-lint-ignore-file no-console -- a command-line tool that reports to its user
/**
 * `deno task compile`: standalone executables of the daemon, one per target, in `dist/`:
 * `s3sync-service-<version>-<target>` (`.exe` on Windows) and `SHA256SUMS` for what was built.
 *
 * The permissions baked into the executables are the `start` task's, read from deno.json, so the
 * daemon has exactly the same rights however it is run. The version is deno.json's too.
 *
 * `deno compile` glues the program onto `denort`, a runtime it downloads once per Deno version and
 * target into `$DENO_DIR/dl/release/v<deno version>/denort-<target>.zip`. This script uses that
 * archive when it is there; else the runtime named by `DENORT_BIN` (one binary, so one target);
 * else, if dl.deno.land answers, lets `deno compile` download it; else it names the missing file,
 * where to put it, and exits 1.
 *
 *   deno task compile                                   every target
 *   deno task compile --target x86_64-unknown-linux-gnu [--target ...] [--out-dir DIR]
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import denoConfig from "../deno.json" with { type: "json" };

export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;
export type Target = typeof TARGETS[number];

// A URL's pathname is no path on Windows ("/D:/a/..."); CI builds the Windows target there.
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NAME = "s3sync-service";
const DOWNLOAD_HOST = "https://dl.deno.land";

/**
 * Files `deno compile` must not embed, as `<package>/<folder>` of the npm cache. bintrees' test
 * data (`test/perf/100k`, 200,000 lines of `123\n-456\n...`) has no extension, so `deno compile`
 * 2.9 parses it as one JavaScript expression, 200,000 levels deep, and dies of a stack overflow
 * ("thread 'tokio-runtime-worker' has overflowed its stack"). Nothing loads it at run time.
 */
const NPM_EXCLUDES: readonly (readonly [string, string])[] = [["bintrees", "test"]];

/**
 * Worker modules, which `deno compile` cannot find by itself (they are loaded by URL, not imported):
 * every file under src/ whose name ends in `_worker.ts`, passed as `--include`. A worker missing
 * from the executable would not fail, only fall back to the main thread (src/pipeline/hash_pool.ts).
 */
export async function workerModules(dir = `${ROOT}src`): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await workerModules(path));
    else if (entry.isFile && entry.name.endsWith("_worker.ts")) found.push(path);
  }
  return found.sort();
}

/** Permission flags of a `deno run ... main.ts` command line, and the script it runs. */
export function parseRunTask(task: string): { permissions: string[]; entrypoint: string } {
  const words = task.trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") {
    throw new Error(`The start task must be "deno run <flags> <script>", got "${task}"`);
  }
  const permissions: string[] = [];
  let entrypoint = "";
  for (const word of words.slice(2)) {
    if (!word.startsWith("-")) {
      entrypoint = word;
      break;
    }
    // Only permission flags mean the same to `deno run` and `deno compile`; anything else must be
    // looked at before it is baked into a release.
    if (!/^--(allow|deny)-[a-z-]+(=.*)?$/.test(word) && word !== "--no-prompt") {
      throw new Error(
        `The start task has the flag "${word}", which scripts/compile.ts does not pass on: ` +
          `teach it whether "deno compile" needs it`,
      );
    }
    permissions.push(word);
  }
  if (!entrypoint) throw new Error(`The start task names no script: "${task}"`);
  return { permissions, entrypoint };
}

/** The daemon's permissions: the flags of deno.json's `start` task, the one place they live. */
export function startTaskPermissions(): string[] {
  return parseRunTask(denoConfig.tasks.start).permissions;
}

export function outputName(version: string, target: Target): string {
  return `${NAME}-${version}-${target}${target.includes("windows") ? ".exe" : ""}`;
}

interface Options {
  targets: Target[];
  outDir: string;
}

const USAGE = `Usage: deno task compile [--target TARGET]... [--out-dir DIR]

Builds ${NAME}-<version>-<target> for every target (or those given) into DIR (default dist/),
and DIR/SHA256SUMS. Targets: ${TARGETS.join(", ")}.

The Deno runtime for each target (denort) is taken from Deno's cache, or from DENORT_BIN (a denort
binary for the one --target given), or downloaded from ${DOWNLOAD_HOST} when it answers.`;

function parseArgs(args: string[]): Options {
  const targets: Target[] = [];
  let outDir = `${ROOT}dist`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (!v) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--help" || flag === "-h") {
      console.log(USAGE);
      Deno.exit(0);
    } else if (flag === "--target") {
      const target = value();
      if (!(TARGETS as readonly string[]).includes(target)) {
        throw new Error(`Unknown target "${target}"; known: ${TARGETS.join(", ")}`);
      }
      if (!targets.includes(target as Target)) targets.push(target as Target);
    } else if (flag === "--out-dir") {
      outDir = value();
    } else {
      throw new Error(`Unknown argument "${arg}"\n\n${USAGE}`);
    }
  }
  return { targets: targets.length > 0 ? targets : [...TARGETS], outDir };
}

async function run(args: string[], env: Record<string, string> = {}): Promise<boolean> {
  const status = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  return status.success;
}

async function denoInfo(): Promise<{ denoDir: string; npmCache: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`"deno info --json" failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** `--exclude` paths for NPM_EXCLUDES, in every registry folder of the npm cache. */
async function npmExcludes(npmCache: string): Promise<string[]> {
  const paths: string[] = [];
  if (!(await exists(npmCache))) return paths;
  for await (const registry of Deno.readDir(npmCache)) {
    if (!registry.isDirectory) continue;
    for (const [pkg, folder] of NPM_EXCLUDES) {
      const pkgDir = `${npmCache}/${registry.name}/${pkg}`;
      if (!(await exists(pkgDir))) continue;
      for await (const version of Deno.readDir(pkgDir)) {
        const path = `${pkgDir}/${version.name}/${folder}`;
        if (version.isDirectory && (await exists(path))) paths.push(path);
      }
    }
  }
  return paths;
}

async function downloadable(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

async function sha256(path: string): Promise<string> {
  // Up to ~100 MB per executable: reading it whole is fine for a build script.
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function main(args: string[]): Promise<number> {
  const options = parseArgs(args);
  const version = denoConfig.version;
  const { permissions, entrypoint } = parseRunTask(denoConfig.tasks.start);
  const denortBin = Deno.env.get("DENORT_BIN") || undefined;

  if (denortBin) {
    if (!(await exists(denortBin))) throw new Error(`DENORT_BIN="${denortBin}" does not exist`);
    if (options.targets.length !== 1) {
      throw new Error(
        `DENORT_BIN names one runtime binary, so it builds one target: add --target <the target ` +
          `"${denortBin}" was built for> (e.g. --target ${Deno.build.target})`,
      );
    }
  }

  // Fill the npm cache first: the excludes below are paths inside it.
  if (!(await run(["install", "--entrypoint", entrypoint]))) {
    throw new Error(`"deno install --entrypoint ${entrypoint}" failed`);
  }
  const { denoDir, npmCache } = await denoInfo();
  const excludes = await npmExcludes(npmCache);
  const workers = (await workerModules()).map((path) => path.slice(ROOT.length));

  if (!denortBin) {
    const missing: { target: Target; archive: string; url: string }[] = [];
    for (const target of options.targets) {
      const file = `release/v${Deno.version.deno}/denort-${target}.zip`;
      const archive = `${denoDir}/dl/${file}`;
      if (!(await exists(archive))) {
        missing.push({ target, archive, url: `${DOWNLOAD_HOST}/${file}` });
      }
    }
    if (missing.length > 0 && !(await downloadable(missing[0]!.url))) {
      console.error(
        `Cannot build: the Deno runtime (denort ${Deno.version.deno}) is missing for ` +
          `${missing.map((m) => m.target).join(", ")}, and ${DOWNLOAD_HOST} cannot be reached.\n` +
          `"deno compile" looks for:\n` +
          missing.map((m) => `  ${m.archive}\n    (download: ${m.url})`).join("\n") +
          `\nProvide it by copying each archive there (DENO_DIR=${denoDir}), or set ` +
          `DENORT_BIN to an unpacked denort binary and build that one --target.`,
      );
      return 1;
    }
  }

  await Deno.mkdir(options.outDir, { recursive: true });
  const sums: string[] = [];
  for (const target of options.targets) {
    const name = outputName(version, target);
    const output = `${options.outDir}/${name}`;
    // `deno compile` refuses to replace a file that is not one of its own executables.
    await Deno.remove(output).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    console.log(`Building ${name} with ${permissions.join(" ")}`);
    const ok = await run(
      [
        "compile",
        ...permissions,
        ...workers.flatMap((path) => ["--include", path]),
        ...excludes.flatMap((path) => ["--exclude", path]),
        "--target",
        target,
        "--output",
        output,
        entrypoint,
      ],
      denortBin ? { DENORT_BIN: denortBin } : {},
    );
    if (!ok) throw new Error(`"deno compile" failed for ${target}`);
    sums.push(`${await sha256(output)}  ${name}\n`);
  }
  await Deno.writeTextFile(`${options.outDir}/SHA256SUMS`, sums.join(""));
  console.log(`Wrote ${sums.length} executable(s) and SHA256SUMS to ${options.outDir}`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(`compile: ${err instanceof Error ? err.message : String(err)}`);
    Deno.exit(1);
  }
}
