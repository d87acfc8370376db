/**
 * The watcher: turns `Deno.watchFs` events into "look at this path after it has been quiet for
 * watch_interval". It does not interpret event kinds: create, modify, remove and rename all mean
 * the same thing here, because the checksum stage looks at the disk as it is when the job runs.
 * Only a rename that names both paths is passed on, so that the new path can be a copy.
 *
 * A watch can die without a word: inotify watches inodes, not paths, so a filesystem mounted over
 * `local_path`, or unmounted from it, leaves it watching a folder nobody writes to any more (or one
 * that is gone with its disk), and no event says so. The root's device and inode numbers are
 * therefore checked every few seconds (and on any event that names the root); when they change,
 * the watch is started again on whatever the path names now and the site compares itself with the
 * bucket. The same check sees a `local_path` that is a link re-pointed elsewhere, since stat
 * follows links. A root that is gone ends the watch the same way, as an outage. Not seen: the same
 * disk unmounted and mounted again between two checks, which shows the same numbers (the mount's
 * id would tell, but Deno.stat does not give it); the next reconcile catches up then.
 *
 * A watcher that cannot start (the folder is missing, the inotify limit is reached) or stops (the
 * folder was removed) is retried with backoff; meanwhile the site compares itself with the bucket
 * every minute, and once the watcher is back it compares once more to catch up.
 *
 * Behind symlinks, a change is named by every path that leads to it and that the site follows
 * (`pathsIn`); folders outside the tree that followed links lead to are watched by link_watch.ts.
 * @module
 */

import { backoffDelay, sleep } from "../lib/backoff.ts";
import { errorMessage } from "../lib/errors.ts";
import { LocalPaths } from "../lib/local_paths.ts";
import { log } from "../lib/log.ts";
import { LinkWatches, realPathOf } from "./link_watch.ts";
import type { SiteLinks } from "./links.ts";

export interface Watched {
  readonly config: {
    readonly name: string;
    readonly localPath: string;
    readonly watchIntervalMs: number;
  };
  /** The links the site's walks followed: a change behind one is named by the link's path. */
  readonly links: SiteLinks;
  markDue(rel: string, at: number): void;
  /** Returns where `to` is now, which may differ when its folder was renamed meanwhile. */
  noteMove(from: string, to: string): string;
  requestReconcile(): void;
  /** The watcher is down; the message says why, once per outage. */
  watcherDown(message: string): void;
  watcherUp(): void;
}

export interface WatchOptions {
  /** How often the root's identity is checked, in ms; tests may shorten it. */
  readonly rootCheckMs?: number;
}

/**
 * The root is looked at this often. One stat of one path is a single syscall answered from the
 * inode cache (an attribute-cache hit on NFS), so even a hundred sites cost nothing measurable;
 * and 5 s keeps a remount unnoticed for no longer than a few default `watch_interval`s, far below
 * the hourly reconcile that would otherwise be the first to see it.
 */
export const ROOT_CHECK_MS = 5_000;

const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 60_000;

/** Which folder the root path names: Deno.stat follows links, so a re-pointed link shows too. */
interface Identity {
  readonly dev: number;
  readonly ino: number | null;
}

/** Why a watch ended. A replaced root is watched again at once; anything else is an outage. */
interface Ended {
  readonly message: string;
  readonly replaced: boolean;
}

/** Watches until `signal` aborts. Started before the first walk, so nothing changes unseen. */
export async function watchSite(
  site: Watched,
  signal: AbortSignal,
  { rootCheckMs = ROOT_CHECK_MS }: WatchOptions = {},
): Promise<void> {
  const root = site.config.localPath;
  let failures = 0;
  // Whether events may have been missed since the last watch: then the site compares once more.
  let catchUp = false;
  while (!signal.aborted) {
    let watcher: Deno.FsWatcher;
    let identity: Identity;
    let paths: LocalPaths;
    try {
      // Taken before the watch starts: a change in between makes the first check restart it
      // again, never watch one folder while believing it is another.
      identity = await identify(root);
      // The real path is watched, and events are read against it: macOS reports real paths
      // (/private/tmp for /tmp), and a local_path that is a link is resolved anew at each start.
      paths = new LocalPaths(await site.links.refreshRoot());
      watcher = Deno.watchFs(paths.root, { recursive: true });
    } catch (err) {
      site.watcherDown(`Cannot watch "${root}": ${explain(err)}`);
      catchUp = true;
      await sleep(backoffDelay(failures++, RETRY_BASE_MS, RETRY_MAX_MS) + 500, signal).catch(
        () => {},
      );
      continue;
    }
    failures = 0;
    if (catchUp) site.requestReconcile();
    // Up before the watcher says so, and before a walk finds more: nothing behind them is missed.
    const behindLinks = new LinkWatches(site);
    site.links.onOutsideChange = (complete) => behindLinks.schedule(complete);
    behindLinks.update(true);
    site.watcherUp();
    const ended = await follow(site, { watcher, paths, identity, rootCheckMs }, signal).finally(
      () => {
        site.links.onOutsideChange = undefined;
        return behindLinks.close();
      },
    );
    if (!ended) return;
    catchUp = true;
    if (ended.replaced) log.warn(ended.message, { site: site.config.name });
    else site.watcherDown(ended.message);
  }
}

/** Feeds events until the watcher ends; returns why it ended, unless it was told to stop. */
async function follow(
  site: Watched,
  { watcher, paths, identity, rootCheckMs }: {
    watcher: Deno.FsWatcher;
    paths: LocalPaths;
    identity: Identity;
    rootCheckMs: number;
  },
  signal: AbortSignal,
): Promise<Ended | undefined> {
  const root = site.config.localPath;
  let ended: Ended | undefined;
  const close = () => {
    try {
      watcher.close();
    } catch {
      // already closed
    }
  };
  const end = (why: Ended) => {
    ended ??= why;
    close();
  };
  signal.addEventListener("abort", close, { once: true });
  // The signal may have aborted while the root was looked at, before anyone listened.
  if (signal.aborted) close();
  const done = new AbortController();
  const checking = checkRootEvery(root, identity, rootCheckMs, done.signal).then((why) => {
    if (why) end(why);
  });
  try {
    for await (const event of watcher) {
      if (event.kind === "access") continue;
      if (event.flag === "rescan") {
        log.warn("the watcher lost events, reconciling the whole site", { site: site.config.name });
        site.requestReconcile();
        continue;
      }
      const at = Date.now() + site.config.watchIntervalMs;
      const named = event.paths.map((path) => pathsIn(site.links, paths, path));
      // A rename inside the site names both paths: the new one can be a copy of the old object.
      // Its kind is not always "rename" (a file moved into a folder that was itself just renamed
      // comes as "remove"), so two paths are what counts. Behind links, one path stands for
      // several, and the move is left to the checks (it is uploaded, not copied).
      const [from, to] = named;
      if (named.length === 2 && from?.length === 1 && to?.length === 1 && from[0] !== to[0]) {
        to.push(site.noteMove(from[0]!, to[0]!));
      }
      for (const [i, rels] of named.entries()) {
        for (const rel of rels) site.markDue(rel, at);
        if (paths.isRoot(event.paths[i]!)) site.requestReconcile();
      }
      // The folder itself went away or was replaced: this watch is dead even if the stream stays
      // open. The same check as the periodic one, sooner.
      if (event.paths.some((path) => paths.isRoot(path))) {
        const why = await rootChange(root, identity);
        if (why) end(why);
      }
    }
    if (signal.aborted) return undefined;
    return ended ?? { message: `Watching "${root}" stopped`, replaced: false };
  } catch (err) {
    if (signal.aborted) return undefined;
    return ended ?? { message: `Watching "${root}" failed: ${explain(err)}`, replaced: false };
  } finally {
    signal.removeEventListener("abort", close);
    close();
    done.abort();
    await checking;
  }
}

/** Looks at the root every `everyMs` until it changes (returns why) or `signal` aborts. */
async function checkRootEvery(
  root: string,
  was: Identity,
  everyMs: number,
  signal: AbortSignal,
): Promise<Ended | undefined> {
  while (!signal.aborted) {
    try {
      await sleep(everyMs, signal);
    } catch {
      return undefined;
    }
    const why = await rootChange(root, was);
    if (why) return why;
  }
  return undefined;
}

/** What became of the root since it was `was`; undefined while it is the same folder. */
async function rootChange(root: string, was: Identity): Promise<Ended | undefined> {
  let now: Identity;
  try {
    now = await identify(root);
  } catch (err) {
    const message = err instanceof Deno.errors.NotFound || err instanceof NotAFolder
      ? `The folder "${root}" was removed or moved; watching it again when it is back`
      : `Cannot look at the folder "${root}": ${errorMessage(err)}; watching it again when it can`;
    return { message, replaced: false };
  }
  if (now.dev === was.dev && now.ino === was.ino) return undefined;
  const changes = [];
  if (now.dev !== was.dev) changes.push(`device ${was.dev} -> ${now.dev}`);
  if (now.ino !== was.ino) changes.push(`inode ${was.ino} -> ${now.ino}`);
  return {
    message: `The folder "${root}" is another folder now (${changes.join(", ")}): a filesystem ` +
      `was mounted or unmounted there, or a link on its path was re-pointed; watching it again ` +
      `and comparing it with the bucket`,
    replaced: true,
  };
}

class NotAFolder extends Error {}

/** The root's device and inode numbers; throws when it cannot be read or is not a folder. */
async function identify(root: string): Promise<Identity> {
  const info = await Deno.stat(root);
  if (!info.isDirectory) throw new NotAFolder("not a folder");
  return { dev: info.dev, ino: info.ino };
}

/** The error, plus what to do when it is the inotify limit. */
function explain(err: unknown): string {
  const message = errorMessage(err);
  if (!/watch limit|no space left/i.test(message)) return message;
  return `${message}: the system's limit of inotify watches is reached. Raise it with ` +
    `"sysctl fs.inotify.max_user_watches=1048576" (and a file in /etc/sysctl.d/ to keep it); ` +
    `until then the folder is compared with the bucket every minute`;
}

/**
 * The paths in the tree that an event's path names. Without links, itself. A path through a
 * link is the path its watch was set up by (notify follows links, and one of the paths that lead
 * to a folder stands for all): it is resolved, then named by its own path and by every followed
 * link that leads to it, never by a link that is not followed.
 */
export function pathsIn(links: SiteLinks, paths: LocalPaths, path: string): string[] {
  const rel = paths.rel(path);
  if (rel === undefined) return [];
  if (links.empty) return [rel];
  const real = links.throughLink(rel)
    ? realPathOf(path)
    : `${links.realRoot === "/" ? "" : links.realRoot}/${rel}`;
  return real === undefined ? [rel] : links.pathsOf(real);
}
