/**
 * One site: a local folder mirrored to a bucket prefix.
 *
 *   watcher ──┐                                  (debounced, parked retries)
 *   reconcile ┴─> due paths ─> feeder ─> checks ─> checksum stage ─> actions ─> upload stage ─> S3
 *
 * The watcher and the periodic reconcile only say "look at this path"; the feeder (feeder.ts)
 * expands folders, the checksum stage decides what a path needs by looking at the disk and the
 * bucket as they are, and the upload stage acts (stages.ts). A path is in the pipeline at most once
 * (jobs.ts keeps that, and parks what failed). The feeder's end closes `checks`, the checksum stage
 * closes `actions`; stopping is "stop the feeder, then await both stages".
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import { joinLocal } from "../lib/local_paths.ts";
import { log } from "../lib/log.ts";
import { type ErrorScope, SiteStats } from "../pipeline/context.ts";
import { DeleteBatcher } from "../pipeline/deletes.ts";
import type { HashPool } from "../pipeline/hash_pool.ts";
import type { FileDigest } from "../pipeline/hash.ts";
import type { ListingStore, RemoteIndex } from "../state/listing.ts";
import type { SiteState } from "../state/store.ts";
import type { ObjectStore } from "../store/types.ts";
import type { Tripped } from "./delete_guard.ts";
import { DuePaths } from "./due.ts";
import { Feeder, type FeederHost } from "./feeder.ts";
import { isIncluded, KeyMap } from "./keys.ts";
import { SiteLinks } from "./links.ts";
import { Moves } from "./moves.ts";
import type { MountMemory } from "./mounts.ts";
import { SiteGuard } from "./site_guard.ts";
import { type StageHost, type StageLimits, Stages } from "./stages.ts";
import { isReadableFolder } from "./walk.ts";
import { watchSite } from "./watch.ts";

export interface SiteOptions extends StageLimits {
  readonly state: SiteState;
  /** Where the site keeps what it lists of its bucket. */
  readonly listings: ListingStore;
  readonly hashes: HashPool;
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

export class Site implements FeederHost, StageHost {
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
  readonly #stages = new Stages(this);
  readonly #jobs = this.#stages.jobs;
  #initialSyncDone = false;
  /** Assumed until the watcher says otherwise, so that a first failure is reported. */
  #watching = true;

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
    // A completed copy needs its source no more: the old key's delete may go.
    return this.#moves.isSource(rel) && !this.guard.survives(rel);
  }

  moveCopied(from: string, rel: string, fromEtag: string, etag: string): void {
    this.guard.moved(from, rel, fromEtag, etag);
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
    const inFlight = this.inFlight();
    return {
      name: this.config.name,
      initialSyncDone: this.#initialSyncDone,
      queued: Math.max(0, this.due.size - this.#jobs.parked) + checksum + upload,
      inFlight: inFlight.checksum + inFlight.upload,
      parked: this.#jobs.parked,
      lastError: this.stats.lastError,
      lastSyncAt: this.stats.lastSyncAt,
      deleteGuard: this.guard.trippedWithKeys(),
    };
  }

  /** Jobs waiting in each stage's channel. */
  queueLengths(): { checksum: number; upload: number } {
    return this.#stages.queueLengths();
  }

  /** Jobs a worker of each stage is busy with. */
  inFlight(): { checksum: number; upload: number } {
    return this.#stages.inFlight();
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
    const checks = this.#stages.open();
    const watching = this.options.once ? Promise.resolve() : watchSite(this, intake);
    const feeding = this.#feeder.run(intake)
      .catch((err) => {
        if (!intake.aborted) throw err;
      })
      .finally(() => checks.close());
    const working = this.#stages.run(cancel);
    // Every part is awaited, even when one fails, so that nothing outlives the site.
    const results = await Promise.allSettled([watching, feeding, working]);
    for (const result of results) {
      if (result.status === "rejected" && !cancel.aborted) throw result.reason;
    }
  }

  /** Queues one path for the checksum stage, once: a path in flight is marked to be looked at again. */
  send(rel: string, signal: AbortSignal): Promise<void> {
    return this.#stages.send(rel, signal);
  }

  moveDone(rel: string): void {
    this.#moves.done(rel);
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
