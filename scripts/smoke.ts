// deno-lint-ignore-file no-console -- a command-line tool that reports to its user
/**
 * `deno task smoke [EXECUTABLE]`: runs the daemon as a user would, against the S3 server the
 * environment names (S3SYNC_TEST_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _REGION, as for the tests), in
 * a fresh temporary folder and a fresh bucket, and checks that the bucket follows the folder: the
 * files there at start, files created, modified, renamed and deleted, a folder moved in from
 * outside, a config change applied by POST /reload, a stop, then a `--once` run that must find
 * nothing left to do. Exits 1 naming the step and what differs on any mismatch or timeout.
 *
 * EXECUTABLE (or S3SYNC_SMOKE_EXE) is a compiled `s3sync-service`; without one, `deno run` with the
 * start task's permissions runs main.ts. No shell is used, so it runs on Linux, macOS and Windows.
 * S3SYNC_SMOKE_TIMEOUT_S bounds each wait (default 90).
 *
 * Stopping: SIGINT on Linux and macOS, after which the daemon must exit 0. On Windows a script
 * cannot send Ctrl-C or Ctrl-Break to another console process, and Deno's kill() there is
 * TerminateProcess: the daemon is killed, as a crash or a forced stop would, and the `--once` run
 * that follows shows that nothing was lost and that the state folder's lock came free.
 * @module
 */

import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { stringify } from "yaml";
import { PART_SIZE } from "../src/pipeline/etag.ts";
import { makeClient } from "./bench/s3.ts";
import { startTaskPermissions } from "./compile.ts";
import { ENV_NAMES } from "./s3env.ts";
import { content, Daemon, Mirror, waitFor, write } from "./smoke_support.ts";

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const PREFIX = "smoke";
const TIMEOUT_MS = Number(Deno.env.get("S3SYNC_SMOKE_TIMEOUT_S") || "90") * 1000;
const WINDOWS = Deno.build.os === "windows";

interface S3 {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

function s3FromEnv(): S3 {
  const missing = [ENV_NAMES.endpoint, ENV_NAMES.accessKey, ENV_NAMES.secretKey]
    .filter((name) => !Deno.env.get(name));
  if (missing.length > 0) {
    throw new Error(`No S3 server to run against: set ${missing.join(", ")}`);
  }
  return {
    endpoint: Deno.env.get(ENV_NAMES.endpoint)!,
    accessKey: Deno.env.get(ENV_NAMES.accessKey)!,
    secretKey: Deno.env.get(ENV_NAMES.secretKey)!,
    region: Deno.env.get(ENV_NAMES.region) || "us-east-1",
  };
}

function configYaml(s3: S3, root: string, bucket: string, exclusions: string[]): string {
  return stringify({
    access_key: s3.accessKey,
    secret_access_key: s3.secretKey,
    aws_region: s3.region,
    state_dir: join(root, "state"),
    watch_interval: "300ms",
    sites: [{
      name: "smoke",
      local_path: join(root, "tree"),
      bucket,
      bucket_path: PREFIX,
      endpoint: s3.endpoint,
      retire_deleted: true,
      exclusions,
    }],
  });
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return (listener.addr as Deno.NetAddr).port;
}

let step = "setup";
let stepStarted = Date.now();
/** The daemon that is running, if any: killed, and its output shown, on a failure. */
let daemon: Daemon | undefined;

function begin(name: string): void {
  step = name;
  stepStarted = Date.now();
}

function passed(): void {
  console.log(`ok   ${step} (${((Date.now() - stepStarted) / 1000).toFixed(1)} s)`);
}

/** Waits until the bucket matches the folder; on timeout the error lists what still differs. */
async function converge(mirror: Mirror, exclude?: RegExp): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor("the bucket to match the folder", TIMEOUT_MS, async () => {
      daemon?.assertRunning();
      last = await mirror.differences(exclude);
      return last.length === 0 ? true : undefined;
    });
  } catch (err) {
    const detail = last.map((line) => `\n  ${line}`).join("");
    throw new Error(`${err instanceof Error ? err.message : String(err)}${detail}`);
  }
}

async function smoke(program: string, programArgs: string[], root: string): Promise<void> {
  const s3 = s3FromEnv();
  const client = makeClient(s3);
  const folder = join(root, "tree");
  const outside = join(root, "outside");
  const config = join(root, "config.yml");
  const bucket = `smoke-${Date.now().toString(36)}-${Deno.pid}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const mirror = new Mirror(client, bucket, PREFIX, folder);
  // Excluded at first; the reload step drops the exclusion, and these must then be uploaded.
  const held = /^held\//;
  await Deno.writeTextFile(config, configYaml(s3, root, bucket, [held.source]));
  const initial: [string, number][] = [
    ["docs/readme.txt", 1_000],
    ["docs/name with spaces & é.txt", 10],
    ["modify.txt", 2_000],
    ["rename.txt", 3_000],
    ["delete.txt", 4_000],
    ["big/parts.bin", PART_SIZE + 1_234_567], // uploaded in parts: a multipart ETag
    ["held/until-reload.txt", 500],
  ];
  for (const [i, [rel, size]] of initial.entries()) await write(folder, rel, content(size, i + 1));
  await write(outside, "album/one.jpg", content(70_000, 20));
  await write(outside, "album/inner/two.jpg", content(80_000, 21));
  const url = `http://127.0.0.1:${freePort()}`;
  console.log(`Smoke test against ${s3.endpoint}, bucket "${bucket}", folder ${folder}`);

  begin("start and initial sync");
  const running = new Daemon(program, [
    ...programArgs,
    ...["--config", config, "--http-host", "127.0.0.1", "--http-port", new URL(url).port],
    ...["--metrics-port", "0"],
  ]);
  daemon = running;
  await waitFor("GET /healthz to answer 200", TIMEOUT_MS, async () => {
    running.assertRunning();
    const response = await fetch(`${url}/healthz`).catch(() => undefined);
    await response?.body?.cancel();
    return response?.ok ? true : undefined;
  });
  await converge(mirror, held);
  passed();

  begin("create, modify, rename, delete, move a folder in");
  await write(folder, "new/created.txt", content(5_000, 30));
  await write(folder, "new/deeper/created.bin", content(300_000, 31));
  await write(folder, "modify.txt", content(2_500, 32));
  await Deno.mkdir(join(folder, "renamed"));
  await Deno.rename(join(folder, "rename.txt"), join(folder, "renamed", "rename.txt"));
  await Deno.remove(join(folder, "delete.txt"));
  await Deno.rename(join(outside, "album"), join(folder, "album"));
  await converge(mirror, held);
  passed();

  begin("config change and POST /reload");
  await Deno.writeTextFile(config, configYaml(s3, root, bucket, []));
  const reload = await fetch(`${url}/reload`, { method: "POST" });
  await reload.body?.cancel();
  // 429: a reload was asked for within the last second; the changed file reloads it anyway.
  if (!reload.ok && reload.status !== 429) {
    throw new Error(`POST /reload answered ${reload.status}`);
  }
  await converge(mirror);
  passed();

  begin(WINDOWS ? "stop (killed: TerminateProcess)" : "stop (SIGINT), exit code 0");
  running.kill(WINDOWS ? "SIGTERM" : "SIGINT");
  await waitFor("the daemon to exit", TIMEOUT_MS, () => Promise.resolve(running.code));
  if (!WINDOWS && running.code !== 0) {
    throw new Error(`The daemon exited with code ${running.code} after SIGINT`);
  }
  daemon = undefined;
  const differences = await mirror.differences(undefined, true);
  if (differences.length > 0) {
    throw new Error(`The bucket differs from the folder:\n  ${differences.join("\n  ")}`);
  }
  passed();

  begin("--once after the stop finds nothing to do");
  const once = new Daemon(program, [...programArgs, "--config", config, "--once", "--json"]);
  daemon = once;
  await waitFor("the --once run to exit", TIMEOUT_MS, () => Promise.resolve(once.code));
  const code = await once.exited();
  // With --json, stdout holds the one summary object and nothing else.
  const summary = JSON.parse(once.stdout.trim() || "{}");
  const changed = ["uploaded", "copied", "deleted"].map((field) => summary[field] ?? -1);
  if (code !== 0 || changed.some((n) => n !== 0)) {
    throw new Error(
      `--once exited with code ${code}, uploaded/copied/deleted ${changed.join("/")} ` +
        `(want 0 and 0/0/0)`,
    );
  }
  daemon = undefined;
  passed();
}

if (import.meta.main) {
  const arg = Deno.args[0];
  if (arg === "--help" || arg === "-h" || Deno.args.length > 1) {
    console.log("Usage: deno task smoke [EXECUTABLE]   (see scripts/smoke.ts)");
    Deno.exit(Deno.args.length > 1 ? 2 : 0);
  }
  const exe = arg || Deno.env.get("S3SYNC_SMOKE_EXE");
  const [program, programArgs] = exe
    ? [resolve(exe), []]
    : [Deno.execPath(), ["run", ...startTaskPermissions(), MAIN]];
  console.log(`Running ${exe ? program : `deno run ... main.ts`}`);
  // The real path: Windows' TEMP may be an 8.3 short name (C:\Users\RUNNER~1\...).
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "s3sync-smoke-" }));
  let failed = false;
  try {
    await smoke(program, programArgs, root);
    console.log("smoke: all steps passed");
  } catch (err) {
    failed = true;
    console.log(`FAIL ${step}: ${err instanceof Error ? err.message : String(err)}`);
    if (daemon) {
      try {
        daemon.kill("SIGKILL");
      } catch {
        // it has exited already
      }
      await daemon.exited();
      const tail = daemon.log.trimEnd().split("\n").slice(-80).join("\n") || "(none)";
      console.log(`Last lines of the daemon's output:\n${tail}`);
    }
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  Deno.exit(failed ? 1 : 0);
}
