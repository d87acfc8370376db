/**
 * Watches behind followed links, for the watcher of `local_path`. Deno's watch of a folder
 * drops the events of files whose real path is outside it, so the folders outside the tree
 * that followed links lead to get a watch of their own (and the folders of file links outside
 * it, their entries only); each event is named by every path in the tree that leads to it.
 * Links inside the tree need none: the watch of `local_path` already sees their targets.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import type { SiteLinks } from "./links.ts";

/**
 * At most this many watches besides `local_path`'s, per site: each holds an inotify watch per
 * folder under it, and the system's limit is shared. Past it, changes behind the other links are
 * found by the next reconcile, and a warning says so once.
 */
export const MAX_LINK_WATCHES = 64;

/** What the watches tell their site. */
export interface LinkWatchHost {
  readonly config: { readonly name: string; readonly watchIntervalMs: number };
  readonly links: SiteLinks;
  markDue(rel: string, at: number): void;
  requestReconcile(): void;
}

interface Open {
  readonly watcher: Deno.FsWatcher;
  readonly done: Promise<void>;
}

export class LinkWatches {
  readonly #open = new Map<string, Open>();
  #warned = false;
  #closed = false;
  /** An update asked for and not run yet; whether it may close watches too. */
  #pending: { complete: boolean } | undefined;

  constructor(private readonly site: LinkWatchHost) {}

  /** Watches what the links lead to now, soon: many links found in a row make one update. */
  schedule(complete: boolean): void {
    if (this.#pending) {
      this.#pending.complete ||= complete;
      return;
    }
    this.#pending = { complete };
    queueMicrotask(() => {
      const { complete } = this.#pending!;
      this.#pending = undefined;
      this.update(complete);
    });
  }

  /** Starts the watches missing; with `complete`, ends those no link leads to any more. */
  update(complete: boolean): void {
    if (this.#closed) return;
    const wanted = this.site.links.outsideTargets();
    const keys = new Set(wanted.map(keyOf));
    if (complete) {
      for (const [key, open] of this.#open) if (!keys.has(key)) this.#end(key, open);
    }
    for (const target of wanted) {
      const key = keyOf(target);
      if (this.#open.has(key)) continue;
      if (this.#open.size >= MAX_LINK_WATCHES) {
        this.#warnOnce();
        break;
      }
      let watcher: Deno.FsWatcher;
      try {
        watcher = Deno.watchFs(target.path, { recursive: target.recursive });
      } catch (err) {
        // Gone already, or the inotify limit: the next reconcile still compares it.
        log.warn("cannot watch behind a symlink", {
          site: this.site.config.name,
          target: target.path,
          error: errorMessage(err),
        });
        continue;
      }
      const open: Open = { watcher, done: this.#pump(key, watcher) };
      this.#open.set(key, open);
    }
  }

  get size(): number {
    return this.#open.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const open = [...this.#open];
    for (const [key, entry] of open) this.#end(key, entry);
    await Promise.all(open.map(([, entry]) => entry.done));
  }

  async #pump(key: string, watcher: Deno.FsWatcher): Promise<void> {
    const { site } = this;
    try {
      for await (const event of watcher) {
        if (event.kind === "access") continue;
        if (event.flag === "rescan") {
          site.requestReconcile();
          continue;
        }
        const at = Date.now() + site.config.watchIntervalMs;
        for (const path of event.paths) {
          for (const rel of site.links.pathsOf(realPathOf(path) ?? path)) site.markDue(rel, at);
        }
      }
    } catch (err) {
      if (!this.#closed) {
        log.warn("watching behind a symlink stopped", {
          site: site.config.name,
          error: errorMessage(err),
        });
      }
    } finally {
      // A target gone and back is watched again at the next update.
      const entry = this.#open.get(key);
      if (entry?.watcher === watcher) this.#open.delete(key);
    }
  }

  #end(key: string, open: Open): void {
    this.#open.delete(key);
    try {
      open.watcher.close();
    } catch {
      // already closed
    }
  }

  #warnOnce(): void {
    if (this.#warned) return;
    this.#warned = true;
    log.warn(
      `more than ${MAX_LINK_WATCHES} folders outside local_path are reached through symlinks; ` +
        `changes behind the others are found by the next reconcile`,
      { site: this.site.config.name },
    );
  }
}

const keyOf = ({ path, recursive }: { path: string; recursive: boolean }) =>
  `${recursive ? "tree" : "entries"}:${path}`;

/**
 * The real path of what an event names: its folder resolved (the file itself may be gone). For
 * a change reported by one path of several that lead to the same folder.
 */
export function realPathOf(path: string): string | undefined {
  const slash = path.lastIndexOf("/");
  if (slash < 0) return undefined;
  try {
    const dir = Deno.realPathSync(slash === 0 ? "/" : path.slice(0, slash));
    return `${dir === "/" ? "" : dir}/${path.slice(slash + 1)}`;
  } catch {
    return undefined;
  }
}
