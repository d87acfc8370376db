/**
 * The watcher: turns `Deno.watchFs` events into "look at this path after it has been quiet for
 * watch_interval". It does not interpret event kinds: create, modify, remove and rename all mean
 * the same thing here, because the checksum stage looks at the disk as it is when the job runs.
 * Only a rename that names both paths is passed on, so that the new path can be a copy.
 *
 * A watcher that cannot start (the folder is missing, the inotify limit is reached) or stops (the
 * folder was removed) is retried with backoff; meanwhile the site compares itself with the bucket
 * every minute, and once the watcher is back it compares once more to catch up.
 * @module
 */

import { backoffDelay, sleep } from "../lib/backoff.ts";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";

export interface Watched {
  readonly config: {
    readonly name: string;
    readonly localPath: string;
    readonly watchIntervalMs: number;
  };
  markDue(rel: string, at: number): void;
  /** Returns where `to` is now, which may differ when its folder was renamed meanwhile. */
  noteMove(from: string, to: string): string;
  requestReconcile(): void;
  /** The watcher is down; the message says why, once per outage. */
  watcherDown(message: string): void;
  watcherUp(): void;
}

const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 60_000;

/** Watches until `signal` aborts. Started before the first walk, so nothing changes unseen. */
export async function watchSite(site: Watched, signal: AbortSignal): Promise<void> {
  const root = site.config.localPath;
  for (let failures = 0; !signal.aborted; failures++) {
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(root, { recursive: true });
    } catch (err) {
      site.watcherDown(`Cannot watch "${root}": ${explain(err)}`);
      await sleep(backoffDelay(failures, RETRY_BASE_MS, RETRY_MAX_MS) + 500, signal).catch(
        () => {},
      );
      continue;
    }
    if (failures > 0) site.requestReconcile();
    site.watcherUp();
    failures = -1;
    const reason = await follow(site, root, watcher, signal);
    if (reason && !signal.aborted) site.watcherDown(reason);
  }
}

/** Feeds events until the watcher ends; returns why it ended, unless it was told to stop. */
async function follow(
  site: Watched,
  root: string,
  watcher: Deno.FsWatcher,
  signal: AbortSignal,
): Promise<string | undefined> {
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
      // Its kind is not always "rename" (a file moved into a folder that was itself just renamed
      // comes as "remove"), so two paths are what counts.
      const [from, to] = rels;
      if (rels.length === 2 && from && to && from !== to) rels.push(site.noteMove(from, to));
      for (const [i, rel] of rels.entries()) {
        if (rel) site.markDue(rel, at);
        else if (event.paths[i] === root) site.requestReconcile();
      }
      // The folder itself went away: this watch is dead even if the stream stays open.
      if (event.paths.includes(root) && !await isFolder(root)) {
        return `The folder "${root}" was removed or moved; watching it again when it is back`;
      }
    }
    return signal.aborted ? undefined : `Watching "${root}" stopped`;
  } catch (err) {
    return signal.aborted ? undefined : `Watching "${root}" failed: ${explain(err)}`;
  } finally {
    signal.removeEventListener("abort", close);
    try {
      watcher.close();
    } catch {
      // already closed
    }
  }
}

/** The error, plus what to do when it is the inotify limit. */
function explain(err: unknown): string {
  const message = errorMessage(err);
  if (!/watch limit|no space left/i.test(message)) return message;
  return `${message}: the system's limit of inotify watches is reached. Raise it with ` +
    `"sysctl fs.inotify.max_user_watches=1048576" (and a file in /etc/sysctl.d/ to keep it); ` +
    `until then the folder is compared with the bucket every minute`;
}

async function isFolder(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/** `path` relative to `root`, or undefined for the root itself and paths outside it. */
function relativeTo(root: string, path: string): string | undefined {
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : undefined;
}
