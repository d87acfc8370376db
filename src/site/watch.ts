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
      for (const path of event.paths) {
        if (path === root) site.requestReconcile();
        else if (path.startsWith(`${root}/`)) site.markDue(path.slice(root.length + 1), at);
      }
    }
  } catch (err) {
    if (!signal.aborted) site.watcherFailed(`Watching "${root}" failed: ${errorMessage(err)}`);
  } finally {
    signal.removeEventListener("abort", close);
  }
}
