/**
 * One site: a local folder mirrored to a bucket prefix.
 *
 *   watcher ──┐                                  (debounced, parked retries)
 *   reconcile ┴─> due paths ─> feeder ─> checks ─> checksum stage ─> actions ─> upload stage ─> S3
 *
 * The watcher and the periodic reconcile only say "look at this path"; the feeder (feeder.ts)
 * expands folders, the checksum stage decides what a path needs by looking at the disk and the
 * bucket as they are, and the upload stage acts. A path is in the pipeline at most once (jobs.ts
 * keeps that, and parks what failed). The feeder's end closes `checks`, the checksum stage closes
 * `actions`; stopping is "stop the feeder, then await both stages".
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import { Channel } from "../lib/channel.ts";
import { drain, Limiter } from "../lib/limiter.ts";
import { joinLocal } from "../lib/local_paths.ts";
import { log } from "../lib/log.ts";
import { apply } from "../pipeline/apply.ts";
import { evaluate } from "../pipeline/check.ts";
import { type Action, type ErrorScope, type SiteContext, SiteStats } from "../pipeline/context.ts";
import { DELETE_BATCH, DeleteBatcher } from "../pipeline/deletes.ts";
import type { HashPool } from "../pipeline/hash_pool.ts";
import type { FileDigest } from "../pipeline/hash.ts";
import type { ListingStore, RemoteIndex } from "../state/listing.ts";
import type { SiteState } from "../state/store.ts";
import type { ObjectStore } from "../store/types.ts";
import { dropUnusedUpload } from "./bucket.ts";
import type { Tripped } from "./delete_guard.ts";
import { DuePaths } from "./due.ts";
import { Feeder, type FeederHost } from "./feeder.ts";
import { Jobs, type JobsHost } from "./jobs.ts";
import { isIncluded, KeyMap } from "./keys.ts";
import { SiteLinks } from "./links.ts";
import { Moves } from "./moves.ts";
import type { MountMemory } from "./mounts.ts";
import { SiteGuard } from "./site_guard.ts";
import { isReadableFolder } from "./walk.ts";
import { watchSite } from "./watch.ts";

export interface SiteOptions {
  readonly state: SiteState;
  /** Where the site keeps what it lists of its bucket. */
  readonly listings: ListingStore;
  readonly hashes: HashPool;
  readonly checksum: Limiter;
  readonly upload: Limiter;
  /** The most `upload` ever allows; with "auto" its limit moves up to this. */
  readonly uploadMax: number;
  readonly uploadQueueBuffer: number;
  /** Reconcile once, drain, and return: no watcher, no retries beyond the S3 ones. */
  readonly once: boolean;
  readonly dryRun: boolean;
  readonly onUpload?: (site: string, seconds: number) => void;
  /** The mount points known inside the sites' folders; none when absent. */
  readonly mounts?: MountMemory;
}

export interface SiteInfo {
  readonly name: string;
  readonly initialSyncDone: boolean;
  readonly queued: number;
  readonly inFlight: number;
  readonly parked: number;
  readonly lastError: string | undefined;
  readonly lastSyncAt: Date | undefined;
  /** Set while the delete guard holds this site's deletes back; its sample holds keys. */
  readonly deleteGuard?: Tripped;
}

export class Site implements SiteContext, FeederHost, JobsHost {
  readonly remote: RemoteIndex;
  readonly stats = new SiteStats();
  readonly keys: KeyMap;
  readonly due = new DuePaths();
  readonly links: SiteLinks;
  readonly #feeder: Feeder;
  readonly #deletes: DeleteBatcher;
  readonly guard: SiteGuard;
  readonly #moves: Moves;
  /** Paths the watcher reported since their last check: compared by content, not by their row. */
  readonly #touched = new Set<string>();
  readonly #jobs = new Jobs(this);
  #initialSyncDone = false;
  /** Assumed until the watcher says otherwise, so that a first failure is reported. */
  #watching = true;
  #checks: Channel<string> | undefined;
  #actions: Channel<Action> | undefined;
  /** Jobs being worked on right now, per stage (a slot held). */
  readonly #active = { checksum: 0, upload: 0 };

  constructor(
    readonly config: SiteConfig,
    readonly store: ObjectStore,
    readonly options: SiteOptions,
  ) {
    this.keys = new KeyMap(config.bucketPath);
    this.links = new SiteLinks(config.localPath, config.followSymlinks);
    this.remote = options.listings.index((rel) => this.keys.keyOf(rel));
    // Long enough for the new path's quiet time and its check; the old keys' deletes wait this
    // long at most for a folder's move.
    this.#moves = new Moves(2 * config.watchIntervalMs + 5_000);
    this.#deletes = new DeleteBatcher(store, config.name);
    this.guard = new SiteGuard(this, options.mounts, options.once);
    this.#feeder = new Feeder(this);
  }

  get once(): boolean {
    return this.options.once;
  }

  get dryRun(): boolean {
    return this.options.dryRun;
  }

  get state(): SiteState {
    return this.options.state;
  }

  get watching(): boolean {
    return this.#watching || this.options.once;
  }

  hash(
    path: string,
    partSizes: readonly number[],
    signal?: AbortSignal,
    size?: number,
  ): Promise<FileDigest> {
    return this.options.hashes.hash(path, partSizes, signal, size);
  }

  /** The watcher saw `from` renamed to `to` (a file or a folder). */
  noteMove(from: string, to: string): string {
    return this.#moves.note(from, to);
  }

  takeTouched(rel: string): boolean {
    return this.#touched.delete(rel);
  }

  forgetTouched(rel: string): void {
    this.#touched.delete(rel);
  }

  moveSourcesFor(rel: string): string[] {
    return this.#moves.sourcesFor(rel);
  }

  isMoveSource(rel: string): boolean {
    return this.#moves.isSource(rel);
  }

  keyOf(rel: string): string {
    return this.keys.keyOf(rel);
  }

  localPath(rel: string): string {
    return joinLocal(this.config.localPath, rel);
  }

  deleteObject(key: string): Promise<void> {
    return this.#deletes.delete(key);
  }

  comparing(): void {
    this.#deletes.newPass();
  }

  observeUpload(seconds: number): void {
    this.options.onUpload?.(this.config.name, seconds);
  }

  isIncluded(rel: string): boolean {
    return isIncluded(this.config, rel);
  }

  rootIsPresent(): Promise<boolean> {
    return isReadableFolder(this.config.localPath);
  }

  /** Idle: listed, nothing due, nothing in the pipeline, no reconcile running. */
  get idle(): boolean {
    return this.#feeder.settled && this.due.size === 0 && this.#jobs.size === 0;
  }

  info(): SiteInfo {
    const { checksum, upload } = this.queueLengths();
    return {
      name: this.config.name,
      initialSyncDone: this.#initialSyncDone,
      queued: Math.max(0, this.due.size - this.#jobs.parked) + checksum + upload,
      inFlight: this.#active.checksum + this.#active.upload,
      parked: this.#jobs.parked,
      lastError: this.stats.lastError,
      lastSyncAt: this.stats.lastSyncAt,
      deleteGuard: this.guard.trippedWithKeys(),
    };
  }

  /** Jobs waiting in each stage's channel. */
  queueLengths(): { checksum: number; upload: number } {
    return { checksum: this.#checks?.size ?? 0, upload: this.#actions?.size ?? 0 };
  }

  /** Jobs a worker of each stage is busy with. */
  inFlight(): { checksum: number; upload: number } {
    return { ...this.#active };
  }

  get parked(): number {
    return this.#jobs.parked;
  }

  /** What the site believes is in the bucket: object count and total bytes. */
  remoteTotals(): { objects: number; size: number } {
    return { objects: this.remote.size, size: this.remote.bytes };
  }

  /** The watcher saw `rel` change: look at it at `at` (ms since epoch), by its content. */
  markDue(rel: string, at: number): void {
    this.#touched.add(rel);
    this.due.set(rel, at);
    // Files coming back may bring the held deletes under the cap: count again soon.
    if (this.guard.tripped) this.#feeder.recheckSoon();
  }

  requestReconcile(): void {
    this.#feeder.requestReconcile();
  }

  /**
   * Runs until `intake` aborts (or, with `once`, until the first reconcile has drained). `cancel`
   * aborts S3 calls in flight; the caller aborts it only after a grace period.
   */
  async run(intake: AbortSignal, cancel: AbortSignal): Promise<void> {
    const checks = new Channel<string>(this.options.checksum.limit);
    const actions = new Channel<Action>(this.options.uploadQueueBuffer);
    this.#checks = checks;
    this.#actions = actions;
    const watching = this.options.once ? Promise.resolve() : watchSite(this, intake);
    const feeding = this.#feeder.run(intake)
      .catch((err) => {
        if (!intake.aborted) throw err;
      })
      .finally(() => checks.close());
    // A site holds at most this many paths between its checks channel and its upload stage:
    // being checked, or checked and waiting for an upload worker. When uploads are the slower
    // stage, the feeder (and the walk behind it) waits, instead of every checked file becoming
    // a task waiting to hand its action over, which cost O(waiting) each.
    const { checksum, upload, uploadMax, uploadQueueBuffer } = this.options;
    const ahead = new Limiter(checksum.limit + uploadMax + uploadQueueBuffer);
    const checking = drain(checks, ahead, async (rel) => {
      // The shared checksum slot is held for the check alone: one site's slow uploads never
      // hold checksum workers that other sites could use.
      const release = await checksum.acquire(cancel);
      this.#active.checksum++;
      const action = await this.#check(rel, cancel).finally(() => {
        this.#active.checksum--;
        release();
      });
      if (action) await actions.send(action, { signal: cancel });
    }, cancel).finally(() => actions.close());
    // A delete waits for company to share a DeleteObjects request; it does so without holding an
    // upload worker, so that a removed folder goes out in batches of up to 1,000 keys, not of
    // as many as there are workers.
    const deleting = new Limiter(DELETE_BATCH);
    const applying = drain(actions, upload, async (action, release) => {
      const releaseDelete = action.kind === "delete" ? await deleting.acquire(cancel) : undefined;
      if (releaseDelete) release();
      this.#active.upload++;
      await this.#apply(action, cancel).finally(() => {
        this.#active.upload--;
        releaseDelete?.();
      });
    }, cancel);
    // Every part is awaited, even when one fails, so that nothing outlives the site.
    const results = await Promise.allSettled([watching, feeding, checking, applying]);
    for (const result of results) {
      if (result.status === "rejected" && !cancel.aborted) throw result.reason;
    }
  }

  /** Queues one path for the checksum stage, once: a path in flight is marked to be looked at again. */
  async send(rel: string, signal: AbortSignal): Promise<void> {
    // Excluded paths never reach the queues, unless they left an object to retire.
    if (!this.isIncluded(rel) && !(this.config.retireDeleted && this.remote.has(rel))) {
      this.forgetTouched(rel);
      return;
    }
    if (!this.#jobs.enter(rel)) return;
    try {
      await this.#checks!.send(rel, { signal });
    } catch (err) {
      this.#jobs.leave(rel);
      throw err;
    }
  }

  async #check(rel: string, cancel: AbortSignal): Promise<Action | undefined> {
    try {
      const action = await evaluate(this, rel, cancel);
      if (action?.kind !== "delete") this.guard.forget(rel);
      const admission = action?.kind === "delete" ? this.guard.admitDelete(rel) : undefined;
      if (admission && admission.verdict !== "go") {
        // Not deleted now: the path is looked at again when its wait ends; a held one stays in
        // the listing, so the next comparison counts it again.
        await this.#finish(rel, false, cancel);
        if (admission.verdict === "wait") this.due.set(rel, admission.at);
        return undefined;
      }
      if (!action) await this.#finish(rel, false, cancel);
      return action;
    } catch (err) {
      this.#jobs.fail(rel, err, cancel);
      return undefined;
    }
  }

  async #apply(action: Action, cancel: AbortSignal): Promise<void> {
    try {
      const { again } = await apply(this, action, cancel);
      await this.#finish(action.rel, again, cancel);
    } catch (err) {
      this.#jobs.fail(action.rel, err, cancel);
    }
  }

  async #finish(rel: string, again: boolean, cancel: AbortSignal): Promise<void> {
    if (!again) this.#moves.done(rel);
    // An upload kept at start for this file that its job did not use (the check is in memory).
    if (!this.dryRun && this.state.uploads.has(this.keyOf(rel))) {
      await dropUnusedUpload(this, rel, cancel);
    }
    this.#jobs.finish(rel, again);
  }

  recordError(scope: ErrorScope, message: string): void {
    this.stats.recordError(scope, message);
    log.error(message, { site: this.config.name, scope });
  }

  watcherDown(message: string): void {
    if (!this.#watching) return; // said once per outage
    this.#watching = false;
    this.recordError("watcher", message);
    this.due.wake();
  }

  watcherUp(): void {
    if (!this.#watching) log.info("watching", { site: this.config.name });
    this.#watching = true;
  }

  notifyIfIdle(): void {
    if (!this.idle) return;
    if (!this.#initialSyncDone) {
      this.#initialSyncDone = true;
      const { checked, uploaded, copied, deleted } = this.stats;
      log.info("initial sync done", { site: this.config.name, checked, uploaded, copied, deleted });
    }
  }
}
