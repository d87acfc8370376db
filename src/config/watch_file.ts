/**
 * Reload on change for a config file, including one mounted from a ConfigMap. Kubelet updates such
 * a volume by writing a new `..<timestamp>` folder, pointing a `..data_tmp` symlink at it and
 * renaming that over `..data`; `config.yml` itself is a symlink through `..data` and is never
 * touched. So the folder is watched, not the file, and the content decides: a hash of the bytes,
 * compared after the folder has been quiet for a while.
 * @module
 */

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { Wakeup } from "../lib/wakeup.ts";

const FOREVER_MS = 2 ** 31 - 1;

const hash = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** The hash of the file now, or undefined while it is missing (mid-swap, say). */
async function digest(path: string): Promise<string | undefined> {
  try {
    return hash(await Deno.readFile(path));
  } catch (err) {
    log.debug("cannot read the config file to compare it", { path, error: errorMessage(err) });
    return undefined;
  }
}

/**
 * Calls `onChange()` when the content of the file at `path` differs from what it was when this was
 * called, and from the last change reported; only after `quietMs` (default 500) without events.
 * Runs until `signal` aborts; throws if the folder cannot be watched.
 */
export async function watchConfigFile(
  path: string,
  onChange: () => void,
  signal: AbortSignal,
  options: { quietMs?: number } = {},
): Promise<void> {
  const quietMs = options.quietMs ?? 500;
  const dir = dirname(path);
  const name = basename(path);
  // Events for anything else in the folder (the new timestamped folder, the old one going) follow
  // or precede a `..data` swap, which is the one that matters.
  const relevant = (p: string) => {
    const base = basename(p);
    return base === name || base === "..data" || base.startsWith("..data_tmp");
  };

  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(dir, { recursive: false });
  } catch (err) {
    throw new Error(`Cannot watch config file "${path}": ${errorMessage(err)}`, { cause: err });
  }
  // Read synchronously, right after the watch is in place, so that a change made as soon as this
  // returns its promise is seen by both: never lost, never compared against itself.
  let known: string | undefined;
  try {
    known = hash(readFileSync(path));
  } catch {
    known = undefined;
  }

  const wakeup = new Wakeup();
  let lastEventAt = 0;
  let pending = false;
  let ended = false;
  let failure: unknown = new Error("the watcher stopped");
  const pump = (async () => {
    try {
      for await (const event of watcher) {
        // A rescan means events were dropped: one of them may have been ours.
        if (event.flag !== "rescan" && !event.paths.some(relevant)) continue;
        lastEventAt = Date.now();
        pending = true;
        wakeup.wake();
      }
    } catch (err) {
      failure = err;
    } finally {
      ended = true;
      wakeup.wake();
    }
  })();
  const close = () => watcher.close();
  signal.addEventListener("abort", close, { once: true });

  try {
    while (!signal.aborted && !ended) {
      const quietLeft = lastEventAt + quietMs - Date.now();
      if (!pending || quietLeft > 0) {
        await wakeup.wait(pending ? quietLeft : FOREVER_MS, signal);
        continue;
      }
      pending = false;
      const current = await digest(path);
      if (current === undefined || current === known || signal.aborted) continue;
      known = current;
      onChange();
    }
  } finally {
    signal.removeEventListener("abort", close);
    if (!ended && !signal.aborted) watcher.close();
    await pump;
  }
  if (!signal.aborted) {
    throw new Error(`Watching config file "${path}" failed: ${errorMessage(failure)}`, {
      cause: failure,
    });
  }
}
