/**
 * Scenario 8, scale: N files of 64 bytes in folders of 100 (`--files`, default 100,000). Our daemon
 * syncs them with `--once` into a fresh bucket, restarts with its state store and without it, syncs
 * again after 1% of the files were rewritten, and is left watching until `/info` says it is idle;
 * the same initial sync at 10,000 files shows how CPU per file grows with N. `aws s3 sync` and
 * `rclone sync` do the initial sync and a second run with nothing changed on the same N; a bare
 * sequential ListObjectsV2 loop plus reading every file is the floor of a restart ("list + read").
 * A bare PutObject loop at both sizes gives the server's own pace there, since RGW slows down as a
 * bucket grows: the slope that counts is our share of that loop's rate, at N against 10,000.
 * @module
 */

import type { DataSet } from "./data.ts";
import { Random, touchSample } from "./data.ts";
import type { Timed } from "./proc.ts";
import { dropBucket, freshBucket, timedPutLoop } from "./s3.ts";
import {
  caseName,
  checkChanged,
  type Context,
  dataSet,
  fmtCount,
  progress,
  runInvocation,
  scale,
  syncOnce,
} from "./scenarios.ts";
import { rotations, summarize } from "./stats.ts";
import { freePort, listAndRead, memoryOnceIdle } from "./scale_probes.ts";
import {
  at,
  attempt,
  checkStored,
  checkUploads,
  CPU,
  LIST_ONLY,
  LIST_READ,
  LOOP,
  MARGINAL,
  NO_STATE,
  PEAK,
  PER_FILE,
  RATE,
  READ_ONLY,
  record,
  RSS,
  SECONDS,
  SHARE,
  type Who,
  WITH_STATE,
} from "./scale_rows.ts";
import {
  daemonWatching,
  describe,
  oursOnce,
  type Tool,
  UPLOAD_WORKERS,
  writeDaemonConfig,
} from "./tools.ts";

/** `--files` when not given; `--timeout` counts per this many files in this scenario. */
export const SCALE_FILES = 100_000;
/** The smaller initial sync that the CPU per file at N is held against. */
const SLOPE_FILES = 10_000;
const FILE_SIZE = 64;
/** s3cmd syncs one file at a time: a million would take hours. */
const SCALE_PEERS = ["aws s3 sync", "rclone sync"];

interface Cases {
  readonly initial: string;
  readonly unchanged: string;
  readonly rewritten: string;
  readonly watching: string;
  readonly settled: string;
  /** Absent when N is not above the slope's size. */
  readonly small?: string;
  readonly slope?: string;
}

function caseNames(big: DataSet, small: DataSet | undefined): Cases {
  const n = fmtCount(big.files.length);
  return {
    initial: caseName(big, "initial sync, fresh bucket"),
    unchanged: caseName(big, "second run, nothing changed"),
    rewritten: caseName(big, "1% rewritten, same size, new mtime"),
    watching: `watching ${n} synced files: RSS once /info says the site is idle`,
    settled: `watching ${n} synced files: RSS 45 s after that`,
    small: small && caseName(small, "initial sync, fresh bucket"),
    slope: small &&
      `CPU a file of the initial sync, ${n} files against ${fmtCount(small.files.length)}`,
  };
}

/** Creates the rows up front, so that the table groups them by unit in a stable order. */
function declareRows(ctx: Context, cases: Cases): void {
  const ours = ctx.tools.filter((t) => t.kind === "ours");
  const peers = ctx.tools.filter((t) => t.kind === "peer");
  const oursTwice = ours.length ? [WITH_STATE, NO_STATE] : [];
  const rows: [string | undefined, readonly (Who | string)[], string[]][] = [
    [cases.initial, [...ours, ...peers], [RATE, PER_FILE, PEAK]],
    [cases.initial, ours.length ? [LOOP] : [], [RATE]],
    [cases.small, ours, [RATE, PER_FILE, PEAK]],
    [cases.small, ours.length ? [LOOP] : [], [RATE]],
    [cases.slope, ours, ["x", MARGINAL, SHARE]],
    [cases.unchanged, [...oursTwice, ...peers, LIST_READ, LIST_ONLY, READ_ONLY], [SECONDS]],
    [cases.unchanged, [...oursTwice, ...peers], [PEAK, CPU]],
    [cases.rewritten, ours, [SECONDS, PEAK, CPU]],
    [cases.watching, ours, [RSS, PEAK]],
    [cases.settled, ours, [RSS]],
  ];
  for (const [kase, whos, units] of rows) {
    if (kase === undefined) continue;
    for (const unit of units) for (const who of whos) ctx.results.row(at(kase, who, unit));
  }
}

export async function scenario8(outer: Context, files: number): Promise<void> {
  const n = scale(outer, files);
  const smallN = scale(outer, SLOPE_FILES);
  const ctx: Context = {
    ...outer,
    tools: outer.tools.filter((t) => t.kind === "ours" || SCALE_PEERS.includes(t.name)),
    // A measurement of a million files takes about ten times as long as one of 100,000.
    timeoutMs: Math.max(outer.timeoutMs, outer.timeoutMs * n / SCALE_FILES),
  };
  const big = await dataSet(ctx, `scale-${n}`, n, FILE_SIZE);
  const small = smallN < n ? await dataSet(ctx, `scale-${smallN}`, smallN, FILE_SIZE) : undefined;
  const cases = caseNames(big, small);
  declareRows(ctx, cases);
  for (const [r, order] of rotations(ctx.tools, ctx.runs).entries()) {
    for (const tool of order) {
      if (tool.kind === "ours") await oursRuns(ctx, cases, big, small, r);
      else await peerRuns(ctx, cases, tool, big, r);
    }
  }
  if (cases.slope && cases.small) {
    const ours = ctx.tools.find((t) => t.kind === "ours")!;
    const median = (kase: string) => summarize(ctx.results.row(at(kase, ours, PER_FILE)).values);
    const [atN, atSmall] = [median(cases.initial), median(cases.small)];
    if (atN && atSmall) {
      const text = `${atN.median.toFixed(3)} ms a file at ${fmtCount(n)} files, ${
        atSmall.median.toFixed(3)
      } ms at ${fmtCount(small!.files.length)} (medians)`;
      ctx.results.note(at(cases.slope, ours, "x"), text);
      ctx.results.note(
        at(cases.slope, ours, MARGINAL),
        `(CPU at ${fmtCount(n)} - CPU at ${fmtCount(small!.files.length)}) / ${
          fmtCount(n - small!.files.length)
        } files: what one more file costs, start-up left out`,
      );
      ctx.results.note(
        at(cases.slope, ours, SHARE),
        `(our objects/s / the loop's) at ${fmtCount(n)} over the same at ${
          fmtCount(small!.files.length)
        }: 1 is a flat cost per file on a server that slows as its bucket grows`,
      );
      progress(`scale: CPU ${text}; ratio ${(atN.median / atSmall.median).toFixed(2)}`);
    }
  }
}

/** Our daemon's `--once` with its own state folder (never the user's), peak RSS and CPU watched. */
function once(ctx: Context, config: string): Promise<Timed> {
  return runInvocation(ctx, "s3sync-service (scale, own state_dir)", oursOnce(config), true);
}

interface Synced {
  readonly out: Timed;
  readonly bucket: string;
  readonly config: string;
  readonly stateDir: string;
}

/** Our initial sync of `set` into a fresh bucket, with an empty state folder; undefined if failed. */
async function oursInitial(
  ctx: Context,
  kase: string,
  set: DataSet,
  label: string,
  r: number,
): Promise<Synced | undefined> {
  const ours = ctx.tools.find((t) => t.kind === "ours")!;
  const stateDir = `${ctx.tmp}/${label}-state`;
  await Deno.remove(stateDir, { recursive: true }).catch(() => {});
  const bucket = await freshBucket(ctx.client, `${label}-ours`);
  const config = await writeDaemonConfig(ctx.s3, `${ctx.tmp}/${label}.yml`, set.dir, bucket, {
    stateDir,
  });
  const row = at(kase, ours, RATE);
  const out = await attempt(ctx, row, r, () => once(ctx, config));
  if (!out) {
    await dropBucket(ctx.client, bucket);
    return undefined;
  }
  record(ctx, kase, ours, out, set.files.length);
  checkUploads(ctx, row, r, out, set.files.length);
  await checkStored(ctx, row, r, bucket, set.files.length);
  return { out, bucket, config, stateDir };
}

/**
 * The bare PutObject loop over `set`: our objects/s of `synced` over the loop's, or NaN. RGW slows
 * down as a bucket grows, so our rate at N is read against the loop's at N. Run while no bucket of
 * ours is held, so that the server has only the loop's objects to keep.
 */
async function shareOfLoop(
  ctx: Context,
  kase: string,
  set: DataSet,
  synced: Synced | undefined,
  r: number,
): Promise<number> {
  const loop = await attempt(ctx, at(kase, LOOP, RATE), r, async () => {
    const seconds = await timedPutLoop(ctx.client, ctx.linked, set.dir, set.files, UPLOAD_WORKERS);
    const rate = set.files.length / seconds;
    ctx.results.add(at(kase, LOOP, RATE), rate);
    progress(`${kase}: ${LOOP}: ${rate.toFixed(0)} objects/s`);
    return rate;
  });
  return synced && loop ? set.files.length / synced.out.seconds / loop : NaN;
}

async function oursRuns(
  ctx: Context,
  cases: Cases,
  big: DataSet,
  small: DataSet | undefined,
  r: number,
): Promise<void> {
  const ours = ctx.tools.find((t) => t.kind === "ours")!;
  const cpu = (synced: Synced | undefined) => synced?.out.cpuSeconds ?? NaN;
  let cpuSmall = NaN, shareSmall = NaN;
  if (small && cases.small) {
    const synced = await oursInitial(ctx, cases.small, small, "scale-small", r);
    if (synced) await dropBucket(ctx.client, synced.bucket);
    cpuSmall = cpu(synced);
    shareSmall = await shareOfLoop(ctx, cases.small, small, synced, r);
  }

  const synced = await oursInitial(ctx, cases.initial, big, "scale", r);
  if (!synced) return;
  const { bucket, config, stateDir } = synced;
  try {
    if (cases.slope && small) {
      const [n, m] = [big.files.length, small.files.length];
      ctx.results.add(at(cases.slope, ours, "x"), (cpu(synced) / n) / (cpuSmall / m));
      ctx.results.add(at(cases.slope, ours, MARGINAL), (cpu(synced) - cpuSmall) * 1000 / (n - m));
    }

    const restart = async (who: Who, before = () => Promise.resolve()) => {
      const row = at(cases.unchanged, who, SECONDS);
      await attempt(ctx, row, r, async () => {
        await before();
        const out = await once(ctx, config);
        record(ctx, cases.unchanged, who, out);
        checkUploads(ctx, row, r, out, 0);
      });
    };
    await restart(WITH_STATE);
    await attempt(ctx, at(cases.unchanged, LIST_READ, SECONDS), r, async () => {
      const { list, read } = await listAndRead(ctx.linked, big, bucket);
      ctx.results.add(at(cases.unchanged, LIST_READ, SECONDS), list + read);
      ctx.results.add(at(cases.unchanged, LIST_ONLY, SECONDS), list);
      ctx.results.add(at(cases.unchanged, READ_ONLY, SECONDS), read);
      progress(`${cases.unchanged}: list ${list.toFixed(2)} s + read ${read.toFixed(2)} s`);
    });
    // Without its state store the daemon hashes every file and compares it with its object's ETag.
    await restart(NO_STATE, () => Deno.remove(stateDir, { recursive: true }));

    await attempt(ctx, at(cases.watching, ours, RSS), r, async () => {
      const port = freePort();
      const cmd = daemonWatching(config, port);
      ctx.commands.set(
        "s3sync-service (scale, watching)",
        describe({ cmd, env: {}, unsetEnv: [] }),
      );
      const mem = await memoryOnceIdle(cmd, port, ctx.timeoutMs);
      ctx.results.add(at(cases.watching, ours, RSS), mem.rssMiB);
      ctx.results.add(at(cases.watching, ours, PEAK), mem.peakMiB);
      ctx.results.add(at(cases.settled, ours, RSS), mem.settledMiB);
      ctx.results.note(
        at(cases.watching, ours, RSS),
        `run ${r + 1}: idle ${mem.seconds.toFixed(1)} s after its start`,
      );
      progress(
        `${cases.watching}: ${mem.rssMiB.toFixed(0)} MiB, ${mem.seconds.toFixed(1)} s; ` +
          `${mem.settledMiB.toFixed(0)} MiB 45 s later`,
      );
    });

    const rewrite = at(cases.rewritten, ours, SECONDS);
    await attempt(ctx, rewrite, r, async () => {
      const changed = await touchSample(big, 0.01, new Random(8000 + r));
      const out = await once(ctx, config);
      record(ctx, cases.rewritten, ours, out);
      checkUploads(ctx, rewrite, r, out, changed.length);
      const missed = await checkChanged(ctx, big, bucket, changed);
      ctx.results.note(
        rewrite,
        missed
          ? `run ${r + 1}: missed ${missed} of ${changed.length} changes`
          : `all ${fmtCount(changed.length)} changes uploaded (checked ETag = local MD5)`,
      );
    });
  } finally {
    await dropBucket(ctx.client, bucket);
  }
  // Last, so that a run stopped for time still has every figure of our own.
  const share = await shareOfLoop(ctx, cases.initial, big, synced, r);
  if (cases.slope) ctx.results.add(at(cases.slope, ours, SHARE), share / shareSmall);
}

async function peerRuns(
  ctx: Context,
  cases: Cases,
  tool: Tool,
  big: DataSet,
  r: number,
): Promise<void> {
  const bucket = await freshBucket(ctx.client, `scale-${tool.name}`);
  try {
    const row = at(cases.initial, tool, RATE);
    const first = await attempt(ctx, row, r, () => syncOnce(ctx, tool, big.dir, bucket, true));
    if (!first) return;
    record(ctx, cases.initial, tool, first, big.files.length);
    await checkStored(ctx, row, r, bucket, big.files.length);
    const again = await attempt(
      ctx,
      at(cases.unchanged, tool, SECONDS),
      r,
      () => syncOnce(ctx, tool, big.dir, bucket, true),
    );
    if (again) record(ctx, cases.unchanged, tool, again);
  } finally {
    await dropBucket(ctx.client, bucket);
  }
}
