/**
 * The watcher: turns `Deno.watchFs` events into "look at this path after it has been quiet for
 * watch_interval". It does not interpret event kinds: create, modify, remove and rename all mean
 * the same thing here, because the checksum stage looks at the disk as it is when the job runs.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";

export interface Watched {
  readonly config: {
    readonly name: string;
    readonly localPath: string;
    readonly watchIntervalMs: number;
  };
  markDue(rel: string, at: number): void;
  noteMove(from: string, to: string): void;
  requestReconcile(): void;
  watcherFailed(message: string): void;
}

/** Watches until `signal` aborts. Started before the first walk, so nothing changes unseen. */
export async function watchSite(site: Watched, signal: AbortSignal): Promise<void> {
  const root = site.config.localPath;
  let watcher: Deno.FsWatcher;
  try {
    watcher = Deno.watchFs(root, { recursive: true });
  } catch (err) {
    site.watcherFailed(`Cannot watch "${root}": ${errorMessage(err)}`);
    return;
  }
  const close = () => watcher.close();
  signal.addEventListener("abort", close, { once: true });
  try {
    for await (const event of watcher) {
      if (event.kind === "access") continue;
      if (event.flag === "rescan") {
        log.warn("the watcher lost events, reconciling the whole site", { site: site.config.name });
        site.requestReconcile();
        continue;
      }
      const at = Date.now() + site.config.watchIntervalMs;
      const rels = event.paths.map((path) => relativeTo(root, path));
      // A rename inside the site names both paths: the new one can be a copy of the old object.
      const [from, to] = rels;
      if (event.kind === "rename" && rels.length === 2 && from && to) site.noteMove(from, to);
      for (const [i, rel] of rels.entries()) {
        if (rel) site.markDue(rel, at);
        else if (event.paths[i] === root) site.requestReconcile();
      }
    }
  } catch (err) {
    if (!signal.aborted) site.watcherFailed(`Watching "${root}" failed: ${errorMessage(err)}`);
  } finally {
    signal.removeEventListener("abort", close);
  }
}

/** `path` relative to `root`, or undefined for the root itself and paths outside it. */
function relativeTo(root: string, path: string): string | undefined {
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : undefined;
}
