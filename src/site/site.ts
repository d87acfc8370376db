/**
 * One site: a local folder mirrored to a bucket prefix.
 *
 *   watcher ──┐                                  (debounced, parked retries)
 *   reconcile ┴─> due paths ─> feeder ─> checks ─> checksum stage ─> actions ─> upload stage ─> S3
 *
 * The watcher and the periodic reconcile only say "look at this path"; the feeder expands folders,
 * the checksum stage decides what a path needs by looking at the disk and the bucket as they are,
 * and the upload stage acts. A path is in the pipeline at most once: a new event for a path in
 * flight marks it to be looked at again when the current job ends. The feeder closes `checks`, the
 * checksum stage closes `actions`; stopping is "stop the feeder, then await both stages".
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import { backoffDelay, sleep } from "../lib/backoff.ts";
import { Channel } from "../lib/channel.ts";
import { errorMessage, isNotFound } from "../lib/errors.ts";
import { drain, type Limiter } from "../lib/limiter.ts";
import { log } from "../lib/log.ts";
import { Wakeup } from "../lib/wakeup.ts";
import { apply } from "../pipeline/apply.ts";
import { DeleteBatcher } from "../pipeline/deletes.ts";
import { evaluate } from "../pipeline/check.ts";
import { type Action, type ErrorScope, type SiteContext, SiteStats } from "../pipeline/context.ts";
import { S3Error } from "../store/s3.ts";
import type { HashPool } from "../pipeline/hash_pool.ts";
import type { FileDigest } from "../pipeline/hash.ts";
import type { SiteState } from "../state/store.ts";
import type { ObjectStore } from "../store/types.ts";
import { isIncluded, isUnder, KeyMap } from "./keys.ts";
import { abortStaleUploads, listPrefix } from "./bucket.ts";
import { Moves } from "./moves.ts";
import { RemoteIndex } from "./remote_index.ts";
import { describeFsError, walkFiles } from "./walk.ts";
import { watchSite } from "./watch.ts";

export interface SiteOptions {
  readonly state: SiteState;
  readonly hashes: HashPool;
  readonly checksum: Limiter;
  readonly upload: Limiter;
  readonly uploadQueueBuffer: number;
  /** Reconcile once, drain, and return: no watcher, no retries beyond the S3 ones. */
  readonly once: boolean;
  readonly dryRun: boolean;
  readonly onUpload?: (site: string, seconds: number) => void;
}

export interface SiteInfo {
  readonly name: string;
  readonly initialSyncDone: boolean;
  readonly queued: number;
  readonly inFlight: number;
  readonly parked: number;
  readonly lastError: string | undefined;
  readonly lastSyncAt: Date | undefined;
}

/** Parked jobs come back after 5 s, 10 s, 20 s ... at most every 5 minutes. */
const PARK_BASE_MS = 5_000;
const PARK_MAX_MS = 5 * 60_000;
/** A failed listing is tried again within this long. */
const LIST_RETRY_MS = 30_000;

export class Site implements SiteContext {
  readonly remote = new RemoteIndex();
  readonly stats = new SiteStats();
  readonly #keys: KeyMap;
  readonly #deletes: DeleteBatcher;
  readonly #due = new Map<string, number>();
  /** Paths the watcher reported since their last check: compared by content, not by their row. */
  readonly #touched = new Set<string>();
  readonly #attempts = new Map<string, number>();
  /** Paths between the feeder and the end of their job; true: look again when it ends. */
  readonly #inPipeline = new Map<string, boolean>();
  readonly #wakeup = new Wakeup();
  /** When the feeder's current sleep ends (0 while it is awake). */
  #feederWakesAt = 0;
  readonly #moves: Moves;
  #reconcileRequested = true;
  #reconciling = false;
  #listed = false;
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
    this.#keys = new KeyMap(config.bucketPath);
    // Long enough for the new path's quiet time and its check; the old keys' deletes wait this
    // long at most for a folder's move.
    this.#moves = new Moves(2 * config.watchIntervalMs + 5_000);
    this.#deletes = new DeleteBatcher(store, config.name);
  }

  get dryRun(): boolean {
    return this.options.dryRun;
  }

  get state(): SiteState {
    return this.options.state;
  }

  hash(path: string, partSizes: readonly number[], signal?: AbortSignal): Promise<FileDigest> {
    return this.options.hashes.hash(path, partSizes, signal);
  }

  /** The watcher saw `from` renamed to `to` (a file or a folder). */
  noteMove(from: string, to: string): string {
    return this.#moves.note(from, to);
  }

  takeTouched(rel: string): boolean {
    return this.#touched.delete(rel);
  }

  moveSourcesFor(rel: string): string[] {
    return this.#moves.sourcesFor(rel);
  }

  isMoveSource(rel: string): boolean {
    return this.#moves.isSource(rel);
  }

  keyOf(rel: string): string {
    return this.#keys.keyOf(rel);
  }

  localPath(rel: string): string {
    return rel ? `${this.config.localPath}/${rel}` : this.config.localPath;
  }

  deleteObject(key: string): Promise<void> {
    return this.#deletes.delete(key);
  }

  observeUpload(seconds: number): void {
    this.options.onUpload?.(this.config.name, seconds);
  }

  isIncluded(rel: string): boolean {
    return isIncluded(this.config, rel);
  }

  async rootIsPresent(): Promise<boolean> {
    try {
      const info = await Deno.stat(this.config.localPath);
      if (!info.isDirectory) return false;
      // Reading one entry proves the folder is readable, not just present.
      for await (const _ of Deno.readDir(this.config.localPath)) break;
      return true;
    } catch {
      return false;
    }
  }

  /** Idle: listed, nothing due, nothing in the pipeline, no reconcile running. */
  get idle(): boolean {
    return this.#listed && !this.#reconciling && !this.#reconcileRequested &&
      this.#due.size === 0 && this.#inPipeline.size === 0;
  }

  info(): SiteInfo {
    const { checksum, upload } = this.queueLengths();
    return {
      name: this.config.name,
      initialSyncDone: this.#initialSyncDone,
      queued: Math.max(0, this.#due.size - this.#attempts.size) + checksum + upload,
      inFlight: this.#active.checksum + this.#active.upload,
      parked: this.#attempts.size,
      lastError: this.stats.lastError,
      lastSyncAt: this.stats.lastSyncAt,
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
    return this.#attempts.size;
  }

  /** What the site believes is in the bucket: object count and total bytes. */
  remoteTotals(): { objects: number; size: number } {
    let size = 0;
    for (const object of this.remote.values()) size += object.size;
    return { objects: this.remote.size, size };
  }

  /** The watcher saw `rel` change: look at it at `at` (ms since epoch), by its content. */
  markDue(rel: string, at: number): void {
    this.#touched.add(rel);
    this.#schedule(rel, at);
  }

  /** Look at `rel` again at `at`; a later event for the same path pushes it back. */
  #schedule(rel: string, at: number): void {
    this.#due.set(rel, at);
    // Only an earlier deadline than the one the feeder sleeps for is worth waking it: a burst of
    // events (each pushing its path back) would otherwise make it scan the due paths each time.
    if (at < this.#feederWakesAt) this.#wakeup.wake();
  }

  requestReconcile(): void {
    this.#reconcileRequested = true;
    this.#wakeup.wake();
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
    const feeding = this.#feed(checks, intake)
      .catch((err) => {
        if (!intake.aborted) throw err;
      })
      .finally(() => checks.close());
    const checking = drain(checks, this.options.checksum, async (rel, release) => {
      this.#active.checksum++;
      const action = await this.#check(rel, cancel).finally(() => this.#active.checksum--);
      // The slot goes back before waiting on the upload stage, so that one site's slow uploads
      // never hold checksum workers that other sites could use.
      release();
      if (action) await actions.send(action, { signal: cancel });
    }, cancel).finally(() => actions.close());
    const applying = drain(actions, this.options.upload, async (action) => {
      this.#active.upload++;
      await this.#apply(action, cancel).finally(() => this.#active.upload--);
    }, cancel);
    // Every part is awaited, even when one fails, so that nothing outlives the site.
    const results = await Promise.allSettled([watching, feeding, checking, applying]);
    for (const result of results) {
      if (result.status === "rejected" && !cancel.aborted) throw result.reason;
    }
  }

  async #feed(checks: Channel<string>, intake: AbortSignal): Promise<void> {
    let nextReconcileAt = Infinity;
    while (!intake.aborted) {
      const now = Date.now();
      if (this.#reconcileRequested || now >= nextReconcileAt) {
        this.#reconcileRequested = false;
        const listed = await this.#reconcile(checks, intake);
        if (this.options.once) return;
        const interval = this.config.reconcileIntervalMs;
        // A listing that failed after the first one is tried again soon; meanwhile parked and
        // watched paths keep moving, with the bucket as it was last seen.
        if (!listed) nextReconcileAt = Date.now() + LIST_RETRY_MS;
        else nextReconcileAt = interval > 0 ? Date.now() + interval : Infinity;
        continue;
      }
      if (!this.#watching && !this.options.once) {
        nextReconcileAt = Math.min(nextReconcileAt, now + Site.WATCHERLESS_RECONCILE_MS);
      }
      const ready: string[] = [];
      for (const [rel, at] of this.#due) if (at <= now) ready.push(rel);
      for (const rel of ready) {
        this.#due.delete(rel);
        await this.#expand(rel, checks, intake);
      }
      this.#notifyIfIdle();
      // The next deadline is taken now, after the expansions, which may have added due paths.
      const next = this.#reconcileRequested ? 0 : this.#earliestDue(nextReconcileAt);
      if (next > Date.now()) {
        this.#feederWakesAt = next;
        await this.#wakeup.wait(next - Date.now(), intake);
        this.#feederWakesAt = 0;
      }
    }
  }

  #earliestDue(limit: number): number {
    let earliest = limit;
    for (const at of this.#due.values()) if (at < earliest) earliest = at;
    return earliest;
  }

  /** Lists the bucket, then looks at every local file and every remote-only key. */
  async #reconcile(checks: Channel<string>, intake: AbortSignal): Promise<boolean> {
    this.#reconciling = true;
    try {
      if (!await this.#list(intake)) return false;
      await this.#expand("", checks, intake);
      this.stats.lastReconcileAt = new Date();
      return true;
    } finally {
      this.#reconciling = false;
      this.#notifyIfIdle();
    }
  }

  /**
   * Lists the bucket. The first listing is retried until it works (nothing can be compared
   * without it; the bucket may come back); later ones are tried once, and the feeder tries again
   * soon. With --once a failure is final.
   */
  async #list(intake: AbortSignal): Promise<boolean> {
    for (let attempt = 0; !intake.aborted; attempt++) {
      try {
        await this.remote.refresh(() => listPrefix(this.store, this.#keys, intake));
        log.debug("listed the bucket", { site: this.config.name, objects: this.remote.size });
        if (!this.#listed && !this.dryRun) {
          await abortStaleUploads(this.store, this.#keys, this.config.name, intake);
        }
        this.#listed = true;
        return true;
      } catch (err) {
        if (intake.aborted) return false;
        this.#recordError("cloud", errorMessage(err));
        if (this.options.once) {
          this.stats.failedJobs++;
          return false;
        }
        if (this.#listed) return false;
        const delay = Math.max(1_000, backoffDelay(attempt, PARK_BASE_MS, LIST_RETRY_MS));
        log.warn("listing failed, retrying", {
          site: this.config.name,
          in_s: Math.round(delay / 1000),
        });
        await sleep(delay, intake).catch(() => {});
      }
    }
    return false;
  }

  /** Sends `rel` to the checksum stage, or, for a folder, everything in and under it. */
  async #expand(rel: string, checks: Channel<string>, signal: AbortSignal): Promise<void> {
    if (rel === "") return await this.#expandRoot(checks, signal);
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.lstat(this.localPath(rel));
    } catch (err) {
      if (!isNotFound(err)) {
        this.#recordError("local", `Cannot read "${rel}": ${describeFsError(err)}`);
        return;
      }
    }
    if (info?.isDirectory) {
      this.#touched.delete(rel);
      // A file replaced by a folder of the same name: the file's object is looked at too.
      if (this.remote.has(rel)) await this.#send(rel, checks, signal);
      await this.#expandDir(rel, checks, signal);
      return;
    }
    await this.#send(rel, checks, signal);
    // A folder that was removed, moved away or replaced by a file: its keys are looked at one by one.
    if (this.remote.hasUnder(rel)) {
      for (const known of [...this.remote.keys()]) {
        if (isUnder(known, rel)) await this.#send(known, checks, signal);
      }
    }
  }

  async #expandRoot(checks: Channel<string>, signal: AbortSignal): Promise<void> {
    if (!await this.rootIsPresent()) {
      this.#recordError(
        "local",
        `Local folder "${this.config.localPath}" is missing, not a folder or unreadable; ` +
          `nothing is uploaded or deleted until it is back`,
      );
      return;
    }
    const seen = await this.#expandDir("", checks, signal);
    if (seen === 0 && this.remote.size > 0 && this.config.retireDeleted) {
      log.warn(
        "local folder is empty but the bucket is not; deleting nothing, as an unmounted disk " +
          "looks the same (delete the objects by hand if you meant it)",
        { site: this.config.name, objects: this.remote.size },
      );
    }
  }

  /** Returns how many files it found; remote keys under `dir` with no file are sent too. */
  async #expandDir(dir: string, checks: Channel<string>, signal: AbortSignal): Promise<number> {
    // Excluded files without an object are not remembered: memory follows what is synced, not
    // the folder, however many files it holds.
    const seen = new Set<string>();
    let found = 0;
    const report = { unreadable: [] as string[] };
    const onError = (rel: string, err: unknown) =>
      this.#recordError("local", `Cannot read "${rel || "."}": ${describeFsError(err)}`);
    for await (const rel of walkFiles(this.config.localPath, dir, report, onError)) {
      found++;
      if (this.remote.has(rel) || this.isIncluded(rel)) seen.add(rel);
      await this.#send(rel, checks, signal);
    }
    if (found === 0 && dir === "") return 0;
    if (dir !== "" && !this.remote.hasUnder(dir)) return found; // a new folder: nothing to retire
    for (const rel of [...this.remote.keys()]) {
      if (!isUnder(rel, dir) || seen.has(rel)) continue;
      // Never delete what we could not see.
      if (report.unreadable.some((bad) => isUnder(rel, bad))) continue;
      await this.#send(rel, checks, signal);
    }
    return found;
  }

  async #send(rel: string, checks: Channel<string>, signal: AbortSignal): Promise<void> {
    // Excluded paths never reach the queues, unless they left an object to retire.
    if (!this.isIncluded(rel) && !(this.config.retireDeleted && this.remote.has(rel))) {
      this.#touched.delete(rel);
      return;
    }
    if (this.#inPipeline.has(rel)) {
      this.#inPipeline.set(rel, true);
      return;
    }
    this.#inPipeline.set(rel, false);
    try {
      await checks.send(rel, { signal });
    } catch (err) {
      this.#inPipeline.delete(rel);
      throw err;
    }
  }

  async #check(rel: string, cancel: AbortSignal): Promise<Action | undefined> {
    try {
      const action = await evaluate(this, rel, cancel);
      if (!action) this.#finish(rel, false);
      return action;
    } catch (err) {
      this.#fail(rel, err, cancel);
      return undefined;
    }
  }

  async #apply(action: Action, cancel: AbortSignal): Promise<void> {
    try {
      const { again } = await apply(this, action, cancel);
      this.#attempts.delete(action.rel);
      this.#finish(action.rel, again);
    } catch (err) {
      this.#fail(action.rel, err, cancel);
    }
  }

  #finish(rel: string, again: boolean): void {
    const rerun = this.#inPipeline.get(rel);
    this.#inPipeline.delete(rel);
    if (!again) {
      this.#moves.done(rel);
    }
    if (again || rerun) this.#schedule(rel, Date.now() + (again ? this.config.watchIntervalMs : 0));
    this.#notifyIfIdle();
  }

  /** A job that failed after its retries is parked and tried again later, never dropped. */
  #fail(rel: string, err: unknown, cancel: AbortSignal): void {
    const rerun = this.#inPipeline.get(rel);
    this.#inPipeline.delete(rel);
    if (cancel.aborted) return; // stopping: the next start's reconcile picks it up
    if (isNotFound(err)) {
      // The file went away while it was read (its hash, its upload): not an error, a new look.
      this.#schedule(rel, Date.now());
      this.#notifyIfIdle();
      return;
    }
    // An event that came in meanwhile is never dropped with the failed job.
    if (rerun) this.#schedule(rel, Date.now());
    const cloud = err instanceof S3Error;
    const message = cloud ? errorMessage(err) : `Cannot sync "${rel}": ${describeFsError(err)}`;
    this.#recordError(cloud ? "cloud" : "local", message);
    this.stats.failedJobs++;
    if (cloud && !this.options.once) {
      const attempts = (this.#attempts.get(rel) ?? 0) + 1;
      this.#attempts.set(rel, attempts);
      const delay = Math.max(PARK_BASE_MS, backoffDelay(attempts, PARK_BASE_MS, PARK_MAX_MS));
      this.#schedule(rel, Date.now() + delay);
    }
    this.#notifyIfIdle();
  }

  #recordError(scope: ErrorScope, message: string): void {
    this.stats.recordError(scope, message);
    log.error(message, { site: this.config.name, scope });
  }

  /** While the watcher is down, the site compares itself with the bucket this often. */
  static readonly WATCHERLESS_RECONCILE_MS = 60_000;

  watcherDown(message: string): void {
    if (!this.#watching) return; // said once per outage
    this.#watching = false;
    this.#recordError("watcher", message);
    this.#wakeup.wake();
  }

  watcherUp(): void {
    if (!this.#watching) log.info("watching", { site: this.config.name });
    this.#watching = true;
  }

  #notifyIfIdle(): void {
    if (!this.idle) return;
    if (!this.#initialSyncDone) {
      this.#initialSyncDone = true;
      const { checked, uploaded, copied, deleted } = this.stats;
      log.info("initial sync done", { site: this.config.name, checked, uploaded, copied, deleted });
    }
  }
}
