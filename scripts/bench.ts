// deno-lint-ignore-file no-console -- a command-line tool that reports to its user
/**
 * `deno task bench`: measures the daemon side by side with `aws s3 sync`, `rclone sync` and
 * `s3cmd sync` on generated data sets, against a local Ceph RGW (or the server that
 * S3SYNC_TEST_ENDPOINT and its keys name). Prints a markdown table and writes
 * bench-results/<timestamp>.json. Code: scripts/bench/.
 *
 *   deno task bench [--runs N] [--scenarios 1,2,...] [--quick] [--timeout S] [--tools L] [--files N]
 *                   [--profile lan|wan|far]
 * @module
 */

import { parseArgs } from "node:util";
import { provideS3 } from "./s3env.ts";
import { markdown, reportRows } from "./bench/report.ts";
import { PROFILES, startLink } from "./bench/profiles.ts";
import { makeClient } from "./bench/s3.ts";
import {
  type Context,
  dropTreeBuckets,
  scenario1,
  scenario2,
  scenario3,
  scenario4,
  scenario5,
  scenario6,
  scenario7,
} from "./bench/scenarios.ts";
import { SCALE_FILES, scenario8 } from "./bench/scale.ts";
import { scenario9 } from "./bench/bandwidth.ts";
import { Results } from "./bench/stats.ts";
import { allTools, ensurePeers } from "./bench/tools.ts";

const USAGE =
  `Usage: deno task bench [--runs N] [--scenarios 1,2,...] [--quick] [--timeout S] [--tools L]
                        [--files N] [--profile P]

  --runs N         repetitions of every measurement (default 3, at least 1)
  --scenarios L    which scenarios to run (default 1-7; 8 and 9 run only when named):
                     1 initial sync, 4 KiB files (objects/s)
                     2 initial sync, 1 MiB and 200 MiB files (MB/s)
                     3 second run, nothing changed (s), against list + walk
                     4 second run after 1% same-size rewrites (s), changes verified
                     5 real time: latency per file, and a burst (ours only)
                     6 memory: peak of a no-change run, RSS while watching, after bursts
                     7 floor: bare SDK PutObject loop and md5sum over the same data
                     8 scale: --files files of 64 B (ours, aws, rclone): initial sync, and
                       ours at 10,000 too (CPU per file at both); second run, nothing
                       changed, ours with and without its state store, against list + read;
                       ours after 1% rewrites; its RSS watching, once idle
                     9 bandwidth_limit 10MiB/s: ours' mean rate over 30 s and its fullest
                       second, counted at a proxy (runs only when named)
  --quick          data sets ~10x smaller, for a smoke run
  --timeout S      limit of one measurement (default 600; scenario 8 multiplies it by
                   files / 100,000 when that is above 1)
  --tools L        which tools to run (default all): ours,aws,rclone,s3cmd
  --files N        files in scenario 8 (default 100000; --quick divides by 10)
  --profile P      the network between the tools and the server (default lan):
                     lan as it is; wan 30 ms round trips; far 120 ms round trips and
                     100 Mbit/s each way (a delay proxy in user space; setup goes direct)

Runs against S3SYNC_TEST_ENDPOINT (+ _ACCESS_KEY, _SECRET_KEY) when set, else a local Ceph RGW
started with RGW_MEMSTORE_BYTES (default here 12 GiB; data lives in RAM).`;

const { values: flags } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    scenarios: { type: "string", default: "1,2,3,4,5,6,7" },
    quick: { type: "boolean", default: false },
    timeout: { type: "string", default: "600" },
    tools: { type: "string", default: "ours,aws,rclone,s3cmd" },
    files: { type: "string", default: String(SCALE_FILES) },
    profile: { type: "string", default: "lan" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const runs = Number(flags.runs);
const timeoutS = Number(flags.timeout);
const scenarios = new Set(flags.scenarios.split(",").map((s) => Number(s.trim())));
const files = Number(flags.files);
if (!Number.isInteger(runs) || runs < 1) {
  throw new Error(`--runs must be >= 1, got "${flags.runs}"`);
}
if (!(timeoutS > 0)) {
  throw new Error(`--timeout must be a number of seconds, got "${flags.timeout}"`);
}
for (const n of scenarios) {
  if (!(n >= 1 && n <= 9 && Number.isInteger(n))) {
    throw new Error(`--scenarios takes numbers 1-9, got "${flags.scenarios}"`);
  }
}
if (!Number.isInteger(files) || files < 1) {
  throw new Error(`--files must be a whole number >= 1, got "${flags.files}"`);
}
if (!(flags.profile in PROFILES)) {
  throw new Error(`--profile takes ${Object.keys(PROFILES).join(", ")}, got "${flags.profile}"`);
}

/** The daemon's code as it stood: commit, and the files under test that differ from it. */
async function gitState(): Promise<string> {
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", {
      args,
      cwd: new URL("..", import.meta.url).pathname,
    })
      .output().catch(() => undefined);
    return out?.success ? new TextDecoder().decode(out.stdout).trim() : "?";
  };
  const head = await git("rev-parse", "--short", "HEAD");
  const dirty = await git("status", "--porcelain", "--", "main.ts", "src", "deno.json");
  const files = dirty === "?" ? [] : dirty.split("\n").filter(Boolean).map((l) => l.slice(3));
  return files.length ? `${head} + uncommitted changes in ${files.join(", ")}` : head;
}

const codeAtStart = await gitState();
await ensurePeers();
if (!Deno.env.get("RGW_MEMSTORE_BYTES")) Deno.env.set("RGW_MEMSTORE_BYTES", String(12 * 2 ** 30));
const server = await provideS3();
const link = await startLink(server, flags.profile);
const s3 = link.s3;
const tmp = await Deno.makeTempDir({ prefix: "s3sync-bench-" });
const started = new Date();
const results = new Results();
const ctx: Context = {
  s3,
  client: makeClient(server),
  linked: makeClient(s3),
  tmp,
  runs,
  quick: flags.quick,
  tools: [],
  results,
  timeoutMs: timeoutS * 1000,
  commands: new Map(),
};
const stop = () => {
  console.error("bench: interrupted; stopping the S3 server");
  server.stop().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", stop);

let failure: unknown;
try {
  const wanted = new Set(flags.tools.split(",").map((t) => t.trim()));
  const keyword = (name: string) => name === "s3sync-service" ? "ours" : name.split(" ")[0]!;
  ctx.tools.push(...(await allTools(s3, tmp)).filter((t) => wanted.has(keyword(t.name))));
  if (!ctx.tools.some((t) => t.kind === "ours")) throw new Error("--tools must include ours");
  console.error(
    `bench: endpoint ${server.endpoint}, profile ${flags.profile}, ${runs} run(s), scenarios ${
      [...scenarios].join(",")
    }${flags.quick ? ", quick" : ""}, temp ${tmp}`,
  );
  if (scenarios.has(7)) await scenario7(ctx);
  if (scenarios.has(9)) await scenario9(ctx);
  if (scenarios.has(1)) await scenario1(ctx);
  if (scenarios.has(2)) await scenario2(ctx);
  if (scenarios.has(3)) await scenario3(ctx);
  if (scenarios.has(4)) await scenario4(ctx);
  if (scenarios.has(6)) await scenario6(ctx, scenarios.has(3));
  await dropTreeBuckets(ctx);
  if (scenarios.has(5)) await scenario5(ctx);
  if (scenarios.has(8)) await scenario8(ctx, files);
} catch (err) {
  failure = err;
  console.error(`bench: stopped by an error: ${err instanceof Error ? err.stack : err}`);
} finally {
  ctx.client.destroy();
  ctx.linked.destroy();
  await link.close();
  await server.stop();
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}

const codeAtEnd = await gitState();
const rows = reportRows(results);
const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)?.[1] ?? "?";
const header = [
  `## s3sync-service benchmark, ${started.toISOString()}`,
  "",
  `${navigator.hardwareConcurrency} cores (${cpu}), ${
    (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0)
  } GiB RAM; ` +
  `server ${
    Deno.env.get("S3SYNC_TEST_ENDPOINT")
      ? server.endpoint
      : "local Ceph RGW (memstore), same machine"
  }, network profile ${flags.profile}; ` +
  `${runs} run(s) per figure${
    flags.quick ? "; --quick (data sets ~10x smaller)" : ""
  }; Deno ${Deno.version.deno}.`,
  "",
  `Daemon code: ${codeAtStart} at the start` +
  (codeAtEnd === codeAtStart ? "." : `; ${codeAtEnd} at the end (it changed during the run).`),
  "",
  "Commands (DIR, BUCKET per run; each tool syncs into its own fresh bucket):",
  "",
  ...[...ctx.commands].map(([name, line]) => `- ${name}: \`${line}\``),
  ...ctx.tools.map((t) => `- ${t.name} decides a same-size file changed by: ${t.detects}`),
].join("\n");
const report = `${header}\n${markdown(rows)}\n`;
console.log(report);

const outDir = new URL("../bench-results/", import.meta.url).pathname;
await Deno.mkdir(outDir, { recursive: true });
const outFile = `${outDir}${started.toISOString().replaceAll(":", "-")}.json`;
await Deno.writeTextFile(
  outFile,
  JSON.stringify(
    {
      started: started.toISOString(),
      finished: new Date().toISOString(),
      options: {
        runs,
        scenarios: [...scenarios],
        quick: flags.quick,
        timeoutS,
        files,
        profile: flags.profile,
      },
      machine: {
        cores: navigator.hardwareConcurrency,
        cpu,
        memoryBytes: Deno.systemMemoryInfo().total,
        deno: Deno.version.deno,
      },
      endpoint: server.endpoint,
      profile: flags.profile,
      code: { atStart: codeAtStart, atEnd: codeAtEnd },
      commands: Object.fromEntries(ctx.commands),
      error: failure ? String(failure) : null,
      rows,
      markdown: report,
    },
    null,
    2,
  ),
);
console.error(`bench: wrote ${outFile}`);
if (failure) Deno.exit(1);
