/**
 * The feeder: the head of a site's pipeline. It turns "look at this path" (due paths from the
 * watcher and from jobs to retry, and the periodic reconcile) into file paths for the checksum
 * stage: a folder becomes every file in and under it, plus every object under it whose file is
 * gone. It owns the bucket listing that each reconcile starts with, and closes nothing: the site
 * closes the checks channel when `run` returns.
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import { backoffDelay, sleep } from "../lib/backoff.ts";
import { errorMessage, isNotFound } from "../lib/errors.ts";
import { compareKeys } from "../lib/key_order.ts";
import { log } from "../lib/log.ts";
import type { ErrorScope, SiteStats } from "../pipeline/context.ts";
import type { RemoteIndex } from "../state/listing.ts";
import type { SiteState } from "../state/store.ts";
import type { ObjectStore } from "../store/types.ts";
import { abortStaleUploads, listPrefix } from "./bucket.ts";
import { type DeleteGuard, SAMPLE_SIZE } from "./delete_guard.ts";
import type { SiteGuard } from "./site_guard.ts";
import type { DuePaths } from "./due.ts";
import { isUnder, type KeyMap } from "./keys.ts";
import { resolveLink, type SiteLinks, type Target } from "./links.ts";
import { describeFsError, walkInKeyOrder } from "./walk.ts";

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
export interface FeederHost {
  readonly config: SiteConfig;
  readonly store: ObjectStore;
  readonly keys: KeyMap;
  readonly remote: RemoteIndex;
  readonly stats: SiteStats;
  /** Its multipart uploads, for the clean-up at start. */
  readonly state: Pick<SiteState, "uploads">;
  readonly due: DuePaths;
  /** The links its walks follow, and what they found of them. */
  readonly links: SiteLinks;
  readonly once: boolean;
  readonly dryRun: boolean;
  /** False while the watcher is down: then the site reconciles every minute. */
  readonly watching: boolean;
  rootIsPresent(): Promise<boolean>;
  localPath(rel: string): string;
  isIncluded(rel: string): boolean;
  /** Queues one path for the checksum stage (waits while the stage is full). */
  send(rel: string, signal: AbortSignal): Promise<void>;
  /** `rel` turned out to be a folder: an event for it says nothing about its own bytes. */
  forgetTouched(rel: string): void;
  recordError(scope: ErrorScope, message: string): void;
  notifyIfIdle(): void;
  /** A full comparison starts (the bucket is listed): deletes the server refused may be tried again. */
  comparing(): void;
  readonly guard: SiteGuard;
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
      await this.#expandRoot(intake);
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
      await this.#expandDir(rel, signal);
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

  async #expandRoot(signal: AbortSignal): Promise<void> {
    const { site } = this;
    if (!await site.rootIsPresent()) {
      site.recordError(
        "local",
        `Local folder "${site.config.localPath}" is missing, not a folder or unreadable; ` +
          `nothing is uploaded or deleted until it is back`,
      );
      return;
    }
    // Counted before any goes, unless the guard is off: then they go as the walk finds them.
    const counting = site.config.retireDeleted && !site.guard.off;
    const deletes = counting ? new Counted(site.guard, site.remote.size) : undefined;
    const heldBack = await this.#expandDir("", signal, deletes);
    if (deletes && !heldBack && site.guard.judge(deletes.count, deletes.sample)) {
      for (const rel of deletes.kept) {
        site.guard.clear(rel);
        await site.send(rel, signal);
      }
    }
    if (heldBack && site.config.retireDeleted) {
      log.warn(
        "local folder is empty but the bucket is not; deleting nothing, as an unmounted disk " +
          "looks the same (delete the objects by hand if you meant it)",
        { site: site.config.name, objects: site.remote.size },
      );
    }
  }

  /**
   * Sends every file in and under `dir`, and every object under it whose file is gone: the walk
   * and the index are merged in key order, so memory holds the folders on the walk's path, not
   * the tree. Returns true when it held objects back because the root holds no file. With
   * `deletes`, objects whose file is gone are counted there instead, for the delete guard.
   */
  async #expandDir(dir: string, signal: AbortSignal, deletes?: Counted): Promise<boolean> {
    const { site } = this;
    const onError = (rel: string, err: unknown) =>
      site.recordError("local", `Cannot read "${rel || "."}": ${describeFsError(err)}`);
    // Excluded files are dropped by the walk; those with an object come from the index. The
    // walk tells the site again which links are under `dir`.
    site.links.beginWalk(dir);
    const links = { links: site.links, site: site.config.name };
    const keep = (rel: string) => site.isIncluded(rel);
    const walk = walkInKeyOrder(site.config.localPath, dir, keep, onError, links);
    const unmounted = await site.guard.unmountedFolders(dir);
    const objects = site.remote.keysUnder(dir);
    let object = objects.next();
    let found = 0;
    // An empty root may be an unmounted disk: its objects are left alone (see expandRoot). The
    // root is searched for a file only when an object without one comes first.
    let mayRetire = (dir === "" ? undefined : true) as boolean | undefined;
    const sendObjectsBefore = async (rel: string | undefined) => {
      while (!object.done && (rel === undefined || compareKeys(object.value, rel) < 0)) {
        const orphan = object.value;
        object = objects.next();
        if (unmounted.some((point) => isUnder(orphan, point))) continue;
        mayRetire ??= found > 0 || await this.#rootHasAFile();
        if (!mayRetire) continue;
        if (deletes) deletes.add(orphan);
        else await site.send(orphan, signal);
      }
    };
    for await (const entry of walk) {
      if (entry.unreadable) {
        // Never delete what we could not see.
        await sendObjectsBefore(entry.rel && `${entry.rel}/`);
        while (!object.done && isUnder(object.value, entry.rel)) object = objects.next();
        continue;
      }
      found++;
      await sendObjectsBefore(entry.rel);
      if (object.value === entry.rel) object = objects.next();
      await site.send(entry.rel, signal);
    }
    await sendObjectsBefore(undefined);
    site.links.settle();
    return mayRetire === false && found === 0;
  }

  async #rootHasAFile(): Promise<boolean> {
    const { site } = this;
    const links = { links: site.links, site: site.config.name };
    const walk = walkInKeyOrder(site.config.localPath, "", () => true, () => {}, links);
    for await (const entry of walk) if (!entry.unreadable) return true;
    return false;
  }
}

/** What a comparison would delete: the count, the first few, and as many as could go. */
class Counted {
  count = 0;
  readonly sample: string[] = [];
  readonly kept: string[] = [];
  readonly #keep: number;

  constructor(guard: DeleteGuard, objects: number) {
    this.#keep = guard.keepAtMost(objects);
  }

  add(rel: string): void {
    this.count++;
    if (this.sample.length < SAMPLE_SIZE) this.sample.push(rel);
    if (this.kept.length < this.#keep) this.kept.push(rel);
  }
}
