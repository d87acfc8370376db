/**
 * The feeder: the head of a site's pipeline. It turns "look at this path" (due paths from the
 * watcher and from jobs to retry, and the periodic reconcile) into file paths for the checksum
 * stage: a folder becomes every file in and under it, plus every object under it whose file is
 * gone (the merge of walk and listing is comparison.ts). It owns the bucket listing that each
 * reconcile starts with, and closes nothing: the site closes the checks channel when `run`
 * returns.
 * @module
 */

import { backoffDelay, sleep } from "../lib/backoff.ts";
import { errorMessage, isNotFound } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import type { SiteStats } from "../pipeline/context.ts";
import type { SiteState } from "../state/store.ts";
import type { ObjectStore } from "../store/types.ts";
import { abortStaleUploads, listPrefix } from "./bucket.ts";
import { compareDir, compareRoot, type ComparisonHost } from "./comparison.ts";
import type { DuePaths } from "./due.ts";
import type { KeyMap } from "./keys.ts";
import { resolveLink, type Target } from "./links.ts";
import { describeFsError } from "./walk.ts";

/** A failed listing is tried again within this long. */
const LIST_RETRY_MS = 30_000;
const LIST_BACKOFF_BASE_MS = 5_000;
/** While the watcher is down, the site compares itself with the bucket this often. */
const WATCHERLESS_RECONCILE_MS = 60_000;
/** While the delete guard holds deletes, the site counts them again this often... */
const HELD_RECHECK_MS = 60_000;
/** ...or this long after the watcher saw a change (files coming back). */
const HELD_RECHECK_AFTER_CHANGE_MS = 2_000;

/** What the feeder needs from its site. */
export interface FeederHost extends ComparisonHost {
  readonly store: ObjectStore;
  readonly keys: KeyMap;
  readonly stats: SiteStats;
  /** Its multipart uploads, for the clean-up at start. */
  readonly state: Pick<SiteState, "uploads">;
  readonly due: DuePaths;
  readonly once: boolean;
  readonly dryRun: boolean;
  /** False while the watcher is down: then the site reconciles every minute. */
  readonly watching: boolean;
  localPath(rel: string): string;
  /** `rel` turned out to be a folder: an event for it says nothing about its own bytes. */
  forgetTouched(rel: string): void;
  notifyIfIdle(): void;
  /** A full comparison starts (the bucket is listed): deletes the server refused may be tried again. */
  comparing(): void;
}

export class Feeder {
  #reconcileRequested = true;
  #reconciling = false;
  #listed = false;
  /** When to count held deletes again, sooner than HELD_RECHECK_MS. */
  #recheckAt = Infinity;

  constructor(private readonly site: FeederHost) {}

  /** Listed at least once, and no reconcile running or asked for. */
  get settled(): boolean {
    return this.#listed && !this.#reconciling && !this.#reconcileRequested;
  }

  requestReconcile(): void {
    this.#reconcileRequested = true;
    this.site.due.wake();
  }

  /** The delete guard holds deletes and a file changed: compare again shortly. */
  recheckSoon(): void {
    this.#recheckAt = Math.min(this.#recheckAt, Date.now() + HELD_RECHECK_AFTER_CHANGE_MS);
    this.site.due.wake();
  }

  /** Feeds until `intake` aborts, or, with `once`, until the first reconcile has been fed. */
  async run(intake: AbortSignal): Promise<void> {
    const { site } = this;
    let nextReconcileAt = Infinity;
    while (!intake.aborted) {
      const now = Date.now();
      if (site.guard.tripped) {
        nextReconcileAt = Math.min(nextReconcileAt, now + HELD_RECHECK_MS, this.#recheckAt);
      }
      if (this.#reconcileRequested || now >= nextReconcileAt) {
        this.#reconcileRequested = false;
        this.#recheckAt = Infinity;
        const listed = await this.#reconcile(intake);
        if (site.once) return;
        const interval = site.config.reconcileIntervalMs;
        // A listing that failed after the first one is tried again soon; meanwhile parked and
        // watched paths keep moving, with the bucket as it was last seen.
        if (!listed) nextReconcileAt = Date.now() + LIST_RETRY_MS;
        else nextReconcileAt = interval > 0 ? Date.now() + interval : Infinity;
        continue;
      }
      if (!site.watching) {
        nextReconcileAt = Math.min(nextReconcileAt, now + WATCHERLESS_RECONCILE_MS);
      }
      for (const rel of site.due.takeDue(now)) await this.#expand(rel, intake);
      site.notifyIfIdle();
      // The next deadline is taken now, after the expansions, which may have added due paths.
      const next = this.#reconcileRequested ? 0 : site.due.next(nextReconcileAt);
      if (next > Date.now()) await site.due.sleep(next, intake);
    }
  }

  /** Lists the bucket, then looks at every local file and every remote-only key. */
  async #reconcile(intake: AbortSignal): Promise<boolean> {
    this.#reconciling = true;
    try {
      if (!await this.#list(intake)) return false;
      this.site.comparing();
      await compareRoot(this.site, intake);
      this.site.stats.lastReconcileAt = new Date();
      return true;
    } finally {
      this.#reconciling = false;
      this.site.notifyIfIdle();
    }
  }

  /**
   * Lists the bucket. The first listing is retried until it works (nothing can be compared
   * without it; the bucket may come back); later ones are tried once, and the feeder tries again
   * soon. With --once a failure is final.
   */
  async #list(intake: AbortSignal): Promise<boolean> {
    const { site } = this;
    for (let attempt = 0; !intake.aborted; attempt++) {
      // Asked for beside the listing, not after it: on a far link a round trip less before the
      // first upload, or before a run with nothing to do ends.
      const unfinished = !this.#listed && !site.dryRun
        ? site.store.listMultipartUploads(site.keys.prefix, intake)
        : undefined;
      unfinished?.catch(() => {}); // awaited below, or dropped with a failed listing
      try {
        await site.remote.refresh(listPrefix(site.store, site.keys, intake));
        log.debug("listed the bucket", { site: site.config.name, objects: site.remote.size });
        if (unfinished) await abortStaleUploads(site, unfinished, intake);
        this.#listed = true;
        return true;
      } catch (err) {
        if (intake.aborted) return false;
        site.recordError("cloud", errorMessage(err));
        if (site.once) {
          site.stats.failedJobs++;
          return false;
        }
        if (this.#listed) return false;
        const delay = Math.max(1_000, backoffDelay(attempt, LIST_BACKOFF_BASE_MS, LIST_RETRY_MS));
        log.warn("listing failed, retrying", {
          site: site.config.name,
          in_s: Math.round(delay / 1000),
        });
        await sleep(delay, intake).catch(() => {});
      }
    }
    return false;
  }

  /**
   * Sends `rel` to the checksum stage, or, for a folder, everything in and under it. A path whose
   * kind changed is looked at as both: a file that became a folder keeps its object only until
   * its check, and a folder that became a file (or went away) has every object under it checked.
   */
  async #expand(rel: string, signal: AbortSignal): Promise<void> {
    const { site } = this;
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.lstat(site.localPath(rel));
    } catch (err) {
      if (!isNotFound(err)) {
        site.recordError("local", `Cannot read "${rel}": ${describeFsError(err)}`);
        return;
      }
    }
    const link = info?.isSymlink ? await this.#followedTarget(rel) : undefined;
    if (info?.isDirectory || link?.kind === "folder") {
      if (link) site.links.noteFollowed(rel, link);
      else site.links.forget(rel);
      site.forgetTouched(rel);
      if (site.remote.has(rel)) await site.send(rel, signal);
      await compareDir(site, rel, signal);
      return;
    }
    // No folder here (any more): nor any link under it. A link is told apart: a file link's
    // target is watched, and nothing is a file through a link that is not followed.
    site.links.forgetUnder(rel);
    if (link) site.links.noteFollowed(rel, link);
    else if (info?.isSymlink) site.links.noteSkipped(rel);
    site.links.settle();
    await site.send(rel, signal);
    for (const known of site.remote.keysUnder(rel)) await site.send(known, signal);
  }

  /** What the link at `rel` stands for when it is followed (a loop is found by the walk). */
  async #followedTarget(rel: string): Promise<Target | undefined> {
    const { links, config } = this.site;
    if (!links.following) return undefined;
    await links.refreshRoot();
    // One that cannot be looked at is left to the check, which reports it.
    return await resolveLink(links, rel, new Set(), config.name).catch(() => undefined);
  }
}
