/**
 * What scenario 8 measures besides the syncs themselves: the "list + read" floor of a restart, and
 * the memory of our daemon watching a synced tree once `/info` says it is idle.
 * @module
 */

import type { S3Client } from "@aws-sdk/client-s3";
import type { DataSet } from "./data.ts";
import { Background, procStatusKiB, waitUntil } from "./proc.ts";
import { countObjects } from "./s3.ts";

export interface ListAndRead {
  /** Seconds of the ListObjectsV2 loop. */
  readonly list: number;
  /** Seconds of the walk that reads every file. */
  readonly read: number;
}

/**
 * The floor of a restart: a bare, sequential ListObjectsV2 loop over the bucket, then a readDir
 * walk reading every file, one at a time. Throws unless both found every file of `set`.
 */
export async function listAndRead(
  client: S3Client,
  set: DataSet,
  bucket: string,
): Promise<ListAndRead> {
  const started = performance.now();
  const listed = await countObjects(client, bucket);
  const listedAt = performance.now();
  const read = await readTree(set.dir);
  const done = performance.now();
  if (listed !== set.files.length || read !== set.files.length) {
    throw new Error(`list + read: ${listed} objects and ${read} files, not ${set.files.length}`);
  }
  return { list: (listedAt - started) / 1000, read: (done - listedAt) / 1000 };
}

/** Reads every regular file under `dir`, one at a time; how many it read. */
async function readTree(dir: string): Promise<number> {
  let count = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) count += await readTree(path);
    else if (entry.isFile) {
      await Deno.readFile(path);
      count++;
    }
  }
  return count;
}

export interface IdleMemory {
  /** From the start of the process to the first /info that said idle. */
  readonly seconds: number;
  /** RSS when /info first said idle. */
  readonly rssMiB: number;
  /** RSS after SETTLE_MS more of idleness: V8 gives back what garbage grew its heap to. */
  readonly settledMiB: number;
  /** VmHWM: the highest RSS up to that moment. */
  readonly peakMiB: number;
}

/** V8's memory reducer starts after about 8 s without activity and needs a few rounds. */
const SETTLE_MS = 45_000;

/**
 * Starts `cmd` (the daemon watching, its HTTP server on `port` of loopback), waits until its /info
 * says every site is idle, reads its memory then and once settled, and stops it.
 */
export async function memoryOnceIdle(
  cmd: readonly string[],
  port: number,
  timeoutMs: number,
): Promise<IdleMemory> {
  const started = performance.now();
  const daemon = new Background(cmd, /ERROR|FATAL/);
  try {
    await waitUntil(
      "/info to say the site is idle",
      () => idle(port),
      timeoutMs,
      200,
      () => daemon.exited ? `the daemon exited; its last output:\n${daemon.tail}` : undefined,
    );
    const seconds = (performance.now() - started) / 1000;
    const rssMiB = (procStatusKiB(daemon.pid, "VmRSS") ?? NaN) / 1024;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return {
      seconds,
      rssMiB,
      settledMiB: (procStatusKiB(daemon.pid, "VmRSS") ?? NaN) / 1024,
      peakMiB: (procStatusKiB(daemon.pid, "VmHWM") ?? NaN) / 1024,
    };
  } finally {
    await daemon.stop();
  }
}

/** The /info on `port` says every site is idle: compared, nothing queued, running or parked. */
async function idle(port: number): Promise<boolean> {
  let info;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/info`, { signal: AbortSignal.timeout(5000) });
    info = await res.json();
  } catch {
    return false; // not listening yet
  }
  const sites: Record<string, unknown>[] = info.SITE_STATES ?? [];
  return info.STATUS === "RUNNING" && sites.length > 0 &&
    sites.every((s) =>
      s.initial_sync_done === true && s.queued === 0 && s.in_flight === 0 && s.parked === 0
    );
}

/** A port of loopback that was free a moment ago, for the daemon's HTTP server. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
