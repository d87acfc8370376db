// deno-lint-ignore-file no-console -- a command-line tool that reports to its user
/**
 * The scenarios: each measures every tool (or our daemon alone where peers have no equivalent) on
 * fresh buckets, alternating the tools' order from one run to the next, and records into `Results`.
 * @module
 */

import type { S3Client } from "@aws-sdk/client-s3";
import { DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { S3Env } from "../s3env.ts";
import {
  type DataSet,
  generate,
  md5File,
  Random,
  touchSample,
  walk,
  writeRandomFile,
} from "./data.ts";
import { Background, procStatusKiB, runTimed, sleep, type Timed, waitUntil } from "./proc.ts";
import {
  countObjects,
  dropBucket,
  freshBucket,
  headEtag,
  listAll,
  pool,
  timedPutLoop,
} from "./s3.ts";
import { quantile, type Results, rotations, type Row } from "./stats.ts";
import {
  daemonWatching,
  describe,
  type Invocation,
  type Tool,
  UPLOAD_WORKERS,
  writeDaemonConfig,
} from "./tools.ts";

export interface Context {
  /** The server as the tools see it (through the network profile's link). */
  readonly s3: S3Env;
  /** For setting up and checking buckets: straight to the server. */
  readonly client: S3Client;
  /** For reference loops that are measured: through the link, as the tools. */
  readonly linked: S3Client;
  readonly tmp: string;
  readonly runs: number;
  readonly quick: boolean;
  readonly tools: Tool[];
  readonly results: Results;
  readonly timeoutMs: number;
  /** The command lines actually run, one per tool and kind of run. */
  readonly commands: Map<string, string>;
}

const MB = 1e6;
const KiB = 1024;
const MiB = 1024 * 1024;

export function scale(ctx: Context, n: number): number {
  return ctx.quick ? Math.max(1, Math.round(n / 10)) : n;
}

export function fmtCount(n: number): string {
  return n.toLocaleString("en-US");
}

export function fmtSize(bytes: number): string {
  if (bytes < KiB) return `${bytes} B`;
  return bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
}

export function progress(msg: string): void {
  console.error(`bench: [${new Date().toISOString().slice(11, 19)}] ${msg}`);
}

// ------------------------------------------------------------------------------------- data sets

const sets = new Map<string, Promise<DataSet>>();

/** A data set, generated on first use and shared by the scenarios that need it. */
export function dataSet(
  ctx: Context,
  name: string,
  count: number,
  size: number,
): Promise<DataSet> {
  let set = sets.get(name);
  if (!set) {
    const dir = `${ctx.tmp}/data-${name}`;
    progress(`generating ${fmtCount(count)} files of ${fmtSize(size)} in ${dir}`);
    set = generate(dir, count, size, sets.size + 1);
    sets.set(name, set);
  }
  return set;
}

const smallSet = (ctx: Context) => dataSet(ctx, "small", scale(ctx, 5000), 4 * KiB);
const mediumSet = (ctx: Context) => dataSet(ctx, "medium", scale(ctx, 200), MiB);
const largeSet = (ctx: Context) => dataSet(ctx, "large", 2, ctx.quick ? 20 * MiB : 200 * MiB);
const treeSet = (ctx: Context) => dataSet(ctx, "tree", scale(ctx, 20000), 4 * KiB);

export function caseName(set: DataSet, what: string): string {
  return `${fmtCount(set.files.length)} x ${fmtSize(set.fileSize)}, ${what}`;
}

// ------------------------------------------------------------------------------------- one sync

/** Runs one tool's sync of `dir` into `bucket`; throws with the tool's output when it fails. */
export async function syncOnce(
  ctx: Context,
  tool: Tool,
  dir: string,
  bucket: string,
  watchMemory = false,
): Promise<Timed> {
  return runInvocation(ctx, tool.name, await tool.sync(dir, bucket), watchMemory);
}

/** Runs `inv` to completion under `name` (recording its command line once); throws if it fails. */
export async function runInvocation(
  ctx: Context,
  name: string,
  inv: Invocation,
  watchMemory = false,
): Promise<Timed> {
  if (!ctx.commands.has(name)) ctx.commands.set(name, describe(inv));
  const out = await runTimed(inv.cmd, {
    env: inv.env,
    unsetEnv: inv.unsetEnv,
    timeoutMs: ctx.timeoutMs,
    watchMemory,
  });
  if (out.timedOut) throw new Error(`${name} timed out after ${ctx.timeoutMs / 1000} s`);
  if (out.code !== 0) {
    throw new Error(`${name} exited with ${out.code}: ${out.tail.slice(-1500)}`);
  }
  return out;
}

export type Spec = Omit<Row, "values" | "notes">;

/** A failed run: its error (the tool's last output lines) on stderr and, shortened, in the notes. */
export function failed(ctx: Context, row: Spec, run: number, err: unknown): void {
  const text = String(err);
  progress(`${row.case}: ${row.tool} run ${run + 1} FAILED: ${text}`);
  // The first line names the tool and exit code; the end of its output holds the cause.
  const short = text.length > 700 ? `${text.slice(0, 120)} ... ${text.slice(-560)}` : text;
  ctx.results.note(row, `run ${run + 1} failed: ${short}`);
}

export function spec(
  scenario: number,
  kase: string,
  tool: Tool | string,
  unit: string,
  better: Row["better"],
): Spec {
  return typeof tool === "string"
    ? { scenario, case: kase, tool, kind: "reference", unit, better }
    : { scenario, case: kase, tool: tool.name, kind: tool.kind, unit, better };
}

/** Initial syncs of `set` by every tool into fresh buckets: `runs` times, tools alternating. */
async function initialSyncs(
  ctx: Context,
  scenario: number,
  set: DataSet,
  rate: (set: DataSet, seconds: number) => number,
  unit: string,
): Promise<void> {
  const kase = caseName(set, "initial sync");
  for (const [r, order] of rotations(ctx.tools, ctx.runs).entries()) {
    for (const tool of order) {
      const bucket = await freshBucket(ctx.client, `s${scenario}-${tool.name}`);
      const row = spec(scenario, kase, tool, unit, "higher");
      try {
        const out = await syncOnce(ctx, tool, set.dir, bucket, true);
        const stored = await countObjects(ctx.client, bucket);
        if (out.cpuSeconds !== undefined) {
          ctx.results.add(spec(scenario, kase, tool, "CPU s", "lower"), out.cpuSeconds);
        }
        if (stored !== set.files.length) {
          ctx.results.note(
            row,
            `run ${r + 1}: only ${stored} of ${set.files.length} objects stored`,
          );
        }
        ctx.results.add(row, rate(set, out.seconds));
        progress(`${kase}: ${tool.name} run ${r + 1}: ${out.seconds.toFixed(2)} s`);
      } catch (err) {
        failed(ctx, row, r, err);
      }
      await dropBucket(ctx.client, bucket);
    }
  }
}

const objectsPerSecond = (set: DataSet, s: number) => set.files.length / s;
const mbPerSecond = (set: DataSet, s: number) => set.totalBytes / MB / s;

// ------------------------------------------------------------------------------------- 1, 2

export async function scenario1(ctx: Context): Promise<void> {
  await initialSyncs(ctx, 1, await smallSet(ctx), objectsPerSecond, "objects/s");
}

export async function scenario2(ctx: Context): Promise<void> {
  await initialSyncs(ctx, 2, await mediumSet(ctx), mbPerSecond, "MB/s");
  await initialSyncs(ctx, 2, await largeSet(ctx), mbPerSecond, "MB/s");
}

// ------------------------------------------------------------------------------------- 3, 4

/** Each tool's bucket holding the tree as the tool itself uploaded it (shared by 3, 4, 6). */
const treeBuckets = new Map<string, string>();

async function treeBucket(ctx: Context, tool: Tool): Promise<string> {
  const known = treeBuckets.get(tool.name);
  if (known) return known;
  const set = await treeSet(ctx);
  const bucket = await freshBucket(ctx.client, `tree-${tool.name}`);
  const out = await syncOnce(ctx, tool, set.dir, bucket);
  progress(`populated ${bucket} with ${tool.name} in ${out.seconds.toFixed(1)} s`);
  ctx.results.add(
    spec(3, caseName(set, "initial sync (populating)"), tool, "objects/s", "higher"),
    set.files.length / out.seconds,
    "one run: the population of the bucket the no-change runs use",
  );
  treeBuckets.set(tool.name, bucket);
  return bucket;
}

export async function dropTreeBuckets(ctx: Context): Promise<void> {
  for (const bucket of treeBuckets.values()) await dropBucket(ctx.client, bucket);
  treeBuckets.clear();
}

/** The reference the no-change run is held against: list the bucket and walk the folder, at once. */
async function listAndWalk(ctx: Context, dir: string, bucket: string): Promise<number> {
  const started = performance.now();
  const [remote, local] = await Promise.all([listAll(ctx.linked, bucket), walk(dir)]);
  const seconds = (performance.now() - started) / 1000;
  if (remote.size !== local.size) {
    throw new Error(`list + walk: ${remote.size} objects but ${local.size} files`);
  }
  return seconds;
}

export async function scenario3(ctx: Context): Promise<void> {
  const set = await treeSet(ctx);
  const kase = caseName(set, "second run, nothing changed");
  for (const tool of ctx.tools) await treeBucket(ctx, tool);
  const memCase = caseName(set, "peak RSS of a no-change run (VmHWM)");
  for (const [r, order] of rotations(ctx.tools, ctx.runs).entries()) {
    for (const tool of order) {
      const bucket = await treeBucket(ctx, tool);
      const row = spec(3, kase, tool, "s", "lower");
      try {
        const out = await syncOnce(ctx, tool, set.dir, bucket, true);
        ctx.results.add(row, out.seconds);
        if (out.cpuSeconds !== undefined) {
          ctx.results.add(spec(3, kase, tool, "CPU s", "lower"), out.cpuSeconds);
        }
        if (out.peakKiB) {
          ctx.results.add(spec(6, memCase, tool, "MiB", "lower"), out.peakKiB / 1024);
        }
        progress(
          `${kase}: ${tool.name} run ${r + 1}: ${out.seconds.toFixed(2)} s, peak ${
            ((out.peakKiB ?? 0) / 1024).toFixed(0)
          } MiB`,
        );
      } catch (err) {
        failed(ctx, row, r, err);
      }
    }
    const ours = ctx.tools.find((t) => t.kind === "ours")!;
    const seconds = await listAndWalk(ctx, set.dir, await treeBucket(ctx, ours));
    ctx.results.add(
      spec(3, kase, "reference: SDK list + readDir walk, in parallel, in-process", "s", "lower"),
      seconds,
    );
  }
}

/** How many of the `changed` files' objects do not hold their bytes (ETag against local MD5). */
export async function checkChanged(
  ctx: Context,
  set: DataSet,
  bucket: string,
  changed: readonly string[],
): Promise<number> {
  let missed = 0;
  await pool(changed, 16, async (rel) => {
    const [etag, md5] = await Promise.all([
      headEtag(ctx.client, bucket, rel),
      md5File(`${set.dir}/${rel}`),
    ]);
    if (etag !== md5) missed++;
  });
  return missed;
}

export async function scenario4(ctx: Context): Promise<void> {
  const set = await treeSet(ctx);
  for (const tool of ctx.tools) await treeBucket(ctx, tool);
  const rng = new Random(4242);
  for (const keepMtime of [false, true]) {
    const kase = caseName(
      set,
      `1% rewritten, same size, ${keepMtime ? "mtime put back" : "new mtime"}`,
    );
    for (const [r, order] of rotations(ctx.tools, ctx.runs).entries()) {
      const changed = await touchSample(set, 0.01, rng, keepMtime);
      for (const tool of order) {
        const bucket = await treeBucket(ctx, tool);
        const row = spec(4, kase, tool, "s", "lower");
        try {
          const out = await syncOnce(ctx, tool, set.dir, bucket);
          const missed = await checkChanged(ctx, set, bucket, changed);
          ctx.results.add(row, out.seconds);
          if (missed > 0) {
            ctx.results.note(row, `run ${r + 1}: missed ${missed} of ${changed.length} changes`);
          } else ctx.results.note(row, `all changes uploaded (checked ETag = local MD5)`);
          progress(
            `${kase}: ${tool.name} run ${r + 1}: ${out.seconds.toFixed(2)} s, missed ${missed}`,
          );
        } catch (err) {
          failed(ctx, row, r, err);
        }
      }
    }
  }
}

// ------------------------------------------------------------------------------------- 5

async function startWatching(
  ctx: Context,
  dir: string,
  bucket: string,
  label: string,
): Promise<Background> {
  const config = await writeDaemonConfig(ctx.s3, `${ctx.tmp}/${label}.yml`, dir, bucket);
  const cmd = daemonWatching(config);
  ctx.commands.set("s3sync-service (watching)", describe({ cmd, env: {}, unsetEnv: [] }));
  const daemon = new Background(cmd, /initial sync done|ERROR|FATAL/);
  await daemon.waitFor(/initial sync done/, ctx.timeoutMs);
  return daemon;
}

async function keysUnder(ctx: Context, bucket: string, prefix: string): Promise<Set<string>> {
  const keys = new Set<string>();
  let token: string | undefined;
  do {
    const page = await ctx.client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) keys.add(item.Key!);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

async function countUnder(ctx: Context, bucket: string, prefix: string): Promise<number> {
  return (await keysUnder(ctx, bucket, prefix)).size;
}

/** Writes `count` 4 KiB files under `dir/prefix` as fast as it can; the seconds it took. */
async function burst(dir: string, prefix: string, count: number, seed: number): Promise<void> {
  const rng = new Random(seed);
  const folders = Math.ceil(count / 100);
  for (let f = 0; f < folders; f++) await Deno.mkdir(`${dir}/${prefix}/d${f}`, { recursive: true });
  const names = Array.from(
    { length: count },
    (_, i) => `${prefix}/d${Math.floor(i / 100)}/f${i}.bin`,
  );
  await pool(names, 8, (rel) => writeRandomFile(`${dir}/${rel}`, 4 * KiB, rng));
}

export async function scenario5(ctx: Context): Promise<void> {
  const files = ctx.quick ? 20 : 50;
  const burstCount = scale(ctx, 5000);
  const ours = ctx.tools.find((t) => t.kind === "ours")!;
  const latCase =
    `${files} files of 4 KiB written 200 ms apart: close -> listed (watch_interval 1s)`;
  const burstCase = `burst of ${fmtCount(burstCount)} files of 4 KiB: first write -> all listed`;
  for (let r = 0; r < ctx.runs; r++) {
    const dir = `${ctx.tmp}/rt-${r}`;
    await Deno.mkdir(dir, { recursive: true });
    const bucket = await freshBucket(ctx.client, `rt-${r}`);
    const daemon = await startWatching(ctx, dir, bucket, `rt-${r}`);
    let stopPolling = false;
    try {
      // Latency: one ListObjectsV2 poll every ~20 ms finds which pending files have arrived.
      const rng = new Random(500 + r);
      await Deno.mkdir(`${dir}/lat`);
      const closedAt = new Map<string, number>();
      const latencies: number[] = [];
      let writing = true;
      let pollError: unknown;
      const deadline = performance.now() + ctx.timeoutMs;
      const poller = (async () => {
        while (!stopPolling && (writing || latencies.length < files)) {
          if (performance.now() > deadline) throw new Error("timed out waiting for latency files");
          const pending = [...closedAt.keys()];
          if (pending.length) {
            const listed = await keysUnder(ctx, bucket, "lat/");
            const now = performance.now();
            for (const key of pending) {
              if (listed.has(key)) {
                latencies.push((now - closedAt.get(key)!) / 1000);
                closedAt.delete(key);
              }
            }
          }
          await sleep(20);
        }
      })().catch((err) => pollError = err);
      for (let i = 0; i < files && pollError === undefined; i++) {
        const key = `lat/f${i}.bin`;
        await Deno.writeFile(`${dir}/${key}`, rng.fill(new Uint8Array(4 * KiB)));
        closedAt.set(key, performance.now());
        await sleep(200);
      }
      writing = false;
      await poller;
      if (pollError !== undefined) throw pollError;
      ctx.results.add(spec(5, latCase + " p50", ours, "s", "lower"), quantile(latencies, 0.5));
      ctx.results.add(spec(5, latCase + " p99", ours, "s", "lower"), quantile(latencies, 0.99));
      progress(
        `latency run ${r + 1}: p50 ${quantile(latencies, 0.5).toFixed(3)} s, p99 ${
          quantile(latencies, 0.99).toFixed(3)
        } s`,
      );

      // Burst: all files written at once; ListObjectsV2 counts until all are there.
      const started = performance.now();
      await burst(dir, "burst", burstCount, 900 + r);
      const written = (performance.now() - started) / 1000;
      await waitUntil(
        `${burstCount} burst objects`,
        async () => (await countUnder(ctx, bucket, "burst/")) >= burstCount,
        ctx.timeoutMs,
        100,
      );
      const seconds = (performance.now() - started) / 1000;
      ctx.results.add(
        spec(5, burstCase, ours, "s", "lower"),
        seconds,
        "includes writing the files and the 1 s quiet time",
      );
      ctx.results.note(
        spec(5, burstCase, ours, "s", "lower"),
        `writing took ${written.toFixed(2)} s (run ${r + 1})`,
      );
      progress(`burst run ${r + 1}: ${seconds.toFixed(2)} s (writing ${written.toFixed(2)} s)`);
    } catch (err) {
      ctx.results.note(
        spec(5, latCase + " p50", ours, "s", "lower"),
        `run ${r + 1} failed: ${err}`,
      );
      progress(`real-time run ${r + 1} FAILED: ${err}`);
    } finally {
      stopPolling = true;
      await daemon.stop();
      await dropBucket(ctx.client, bucket);
      await Deno.remove(dir, { recursive: true });
    }
  }
  const peers = ctx.tools.filter((t) => t.kind === "peer").map((t) => t.name).join(", ");
  ctx.results.note(
    spec(5, "all real-time cases", peers, "s", "lower"),
    "n/a: no watch mode (mc is not available); a poll loop of a batch sync was not measured",
  );
}

// ------------------------------------------------------------------------------------- 6

export async function scenario6(ctx: Context, ranScenario3: boolean): Promise<void> {
  const set = await treeSet(ctx);
  const ours = ctx.tools.find((t) => t.kind === "ours")!;
  const bucket = await treeBucket(ctx, ours);
  if (!ranScenario3) {
    const memCase = caseName(set, "peak RSS of a no-change run (VmHWM)");
    for (let r = 0; r < ctx.runs; r++) {
      const out = await syncOnce(ctx, ours, set.dir, bucket, true);
      if (out.peakKiB) ctx.results.add(spec(6, memCase, ours, "MiB", "lower"), out.peakKiB / 1024);
    }
  }
  const burstCount = scale(ctx, 1000);
  const settleMs = ctx.quick ? 2000 : 5000;
  const watchCase = `watching ${fmtCount(set.files.length)} files`;
  for (let r = 0; r < ctx.runs; r++) {
    const daemon = await startWatching(ctx, set.dir, bucket, `mem-${r}`);
    try {
      await sleep(settleMs);
      const rss = (field = "VmRSS") => (procStatusKiB(daemon.pid, field) ?? NaN) / 1024;
      ctx.results.add(
        spec(6, `${watchCase}: RSS settled after initial sync`, ours, "MiB", "lower"),
        rss(),
      );
      for (let b = 1; b <= 3; b++) {
        await burst(set.dir, `mem-burst${b}`, burstCount, 700 + b);
        await waitUntil(
          `burst ${b}`,
          async () => (await countUnder(ctx, bucket, `mem-burst${b}/`)) >= burstCount,
          ctx.timeoutMs,
          250,
        );
        await sleep(settleMs);
        ctx.results.add(
          spec(
            6,
            `${watchCase}: RSS after burst ${b} of ${fmtCount(burstCount)} files`,
            ours,
            "MiB",
            "lower",
          ),
          rss(),
        );
      }
      ctx.results.add(
        spec(6, `${watchCase}: peak RSS (VmHWM) over the whole run`, ours, "MiB", "lower"),
        rss("VmHWM"),
      );
      progress(`memory run ${r + 1}: done`);
    } catch (err) {
      progress(`memory run ${r + 1} FAILED: ${err}`);
      ctx.results.note(
        spec(6, `${watchCase}: RSS settled after initial sync`, ours, "MiB", "lower"),
        `run ${r + 1} failed: ${err}`,
      );
    } finally {
      await daemon.stop();
      for (let b = 1; b <= 3; b++) {
        await Deno.remove(`${set.dir}/mem-burst${b}`, { recursive: true }).catch(() => {});
        const keys = [...await keysUnder(ctx, bucket, `mem-burst${b}/`)];
        await pool(keys, 32, async (key) => {
          await ctx.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
        });
      }
    }
  }
}

// ------------------------------------------------------------------------------------- 7

export const FLOOR = `floor: SDK PutObject loop x${UPLOAD_WORKERS}, in-process`;
export const MD5SUM = "md5sum over the same files";

export async function scenario7(ctx: Context): Promise<void> {
  for (
    const [set, rate, unit] of [
      [await smallSet(ctx), objectsPerSecond, "objects/s"],
      [await mediumSet(ctx), mbPerSecond, "MB/s"],
      [await largeSet(ctx), mbPerSecond, "MB/s"],
    ] as const
  ) {
    const kase = caseName(set, "initial sync");
    for (let r = 0; r < ctx.runs; r++) {
      const seconds = await timedPutLoop(
        ctx.client,
        ctx.linked,
        set.dir,
        set.files,
        UPLOAD_WORKERS,
      );
      ctx.results.add(spec(7, kase, FLOOR, unit, "higher"), rate(set, seconds));
      const md5 = await runTimed(
        ["bash", "-c", `cd '${set.dir}' && find . -type f -print0 | xargs -0 md5sum >/dev/null`],
        { timeoutMs: ctx.timeoutMs },
      );
      ctx.results.add(spec(7, kase, MD5SUM, "MB/s", "higher"), set.totalBytes / MB / md5.seconds);
      progress(
        `${kase}: floor run ${r + 1}: ${seconds.toFixed(2)} s; md5sum ${md5.seconds.toFixed(2)} s`,
      );
    }
  }
  // The generated sets are in the page cache; say so, since md5sum reads them from RAM.
  ctx.results.note(
    spec(7, caseName(await smallSet(ctx), "initial sync"), MD5SUM, "MB/s", "higher"),
    "files in the page cache",
  );
}
