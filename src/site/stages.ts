/**
 * A site's checksum and upload stages. They consume the paths the feeder sends (`send`, into the
 * checks channel, which the site closes when its feeder ends); the checksum stage turns each into
 * an action or nothing, the delete guard admitting each delete, and closes the actions channel
 * when it has drained; the upload stage carries the actions out. Every path ends its job here
 * (jobs.ts): done, to be looked at again, or failed and parked.
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import { Channel } from "../lib/channel.ts";
import { drain, Limiter } from "../lib/limiter.ts";
import { apply } from "../pipeline/apply.ts";
import { evaluate } from "../pipeline/check.ts";
import type { Action, SiteContext } from "../pipeline/context.ts";
import { DELETE_BATCH } from "../pipeline/deletes.ts";
import type { SiteState } from "../state/store.ts";
import { dropUnusedUpload, type UploadsHost } from "./bucket.ts";
import { Jobs, type JobsHost } from "./jobs.ts";
import type { SiteGuard } from "./site_guard.ts";

/** The worker limits, shared by every site, that the stages take their slots from. */
export interface StageLimits {
  readonly checksum: Limiter;
  readonly upload: Limiter;
  /** The most `upload` ever allows; with "auto" its limit moves up to this. */
  readonly uploadMax: number;
  readonly uploadQueueBuffer: number;
}

/** What the stages need from their site. */
export interface StageHost extends SiteContext, JobsHost, UploadsHost {
  readonly config: SiteConfig;
  readonly state: SiteState;
  readonly options: StageLimits;
  readonly guard: SiteGuard;
  /** `rel` turned out to need no check of its bytes (it is not sent). */
  forgetTouched(rel: string): void;
  /** The job of the new path `rel` ended for good: its own move is no longer needed. */
  moveDone(rel: string): void;
}

export class Stages {
  readonly jobs: Jobs;
  #checks: Channel<string> | undefined;
  #actions: Channel<Action> | undefined;
  /** Jobs being worked on right now, per stage (a slot held). */
  readonly #active = { checksum: 0, upload: 0 };

  constructor(private readonly site: StageHost) {
    this.jobs = new Jobs(site);
  }

  /** Jobs waiting in each stage's channel. */
  queueLengths(): { checksum: number; upload: number } {
    return { checksum: this.#checks?.size ?? 0, upload: this.#actions?.size ?? 0 };
  }

  /** Jobs a worker of each stage is busy with. */
  inFlight(): { checksum: number; upload: number } {
    return { ...this.#active };
  }

  /** The channels of a run; `send` works from now on. The caller closes the one returned. */
  open(): Channel<string> {
    this.#checks = new Channel<string>(this.site.options.checksum.limit);
    this.#actions = new Channel<Action>(this.site.options.uploadQueueBuffer);
    return this.#checks;
  }

  /** Runs both stages until the checks channel is closed and drained. */
  async run(cancel: AbortSignal): Promise<void> {
    const checks = this.#checks!;
    const actions = this.#actions!;
    // A site holds at most this many paths between its checks channel and its upload stage:
    // being checked, or checked and waiting for an upload worker. When uploads are the slower
    // stage, the feeder (and the walk behind it) waits, instead of every checked file becoming
    // a task waiting to hand its action over, which cost O(waiting) each.
    const { checksum, upload, uploadMax, uploadQueueBuffer } = this.site.options;
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
    // Both are awaited, even when one fails, so that nothing outlives the site.
    const results = await Promise.allSettled([checking, applying]);
    for (const result of results) {
      if (result.status === "rejected" && !cancel.aborted) throw result.reason;
    }
  }

  /** Queues one path for the checksum stage, once: a path in flight is marked to be looked at again. */
  async send(rel: string, signal: AbortSignal): Promise<void> {
    const { site } = this;
    // Excluded paths never reach the queues, unless they left an object to retire.
    if (!site.isIncluded(rel) && !(site.config.retireDeleted && site.remote.has(rel))) {
      site.forgetTouched(rel);
      return;
    }
    if (!this.jobs.enter(rel)) return;
    try {
      await this.#checks!.send(rel, { signal });
    } catch (err) {
      this.jobs.leave(rel);
      throw err;
    }
  }

  async #check(rel: string, cancel: AbortSignal): Promise<Action | undefined> {
    const { guard } = this.site;
    try {
      const action = await evaluate(this.site, rel, cancel);
      if (action?.kind !== "delete") guard.forget(rel);
      const admission = action?.kind === "delete" ? guard.admitDelete(rel) : undefined;
      if (admission && admission.verdict !== "go") {
        // Not deleted now: the path is looked at again when its wait ends; a held one stays in
        // the listing, so the next comparison counts it again.
        await this.#finish(rel, false, cancel);
        if (admission.verdict === "wait") this.site.due.set(rel, admission.at);
        return undefined;
      }
      if (!action) await this.#finish(rel, false, cancel);
      return action;
    } catch (err) {
      this.jobs.fail(rel, err, cancel);
      return undefined;
    }
  }

  async #apply(action: Action, cancel: AbortSignal): Promise<void> {
    try {
      const { again } = await apply(this.site, action, cancel);
      await this.#finish(action.rel, again, cancel);
    } catch (err) {
      this.jobs.fail(action.rel, err, cancel);
    }
  }

  async #finish(rel: string, again: boolean, cancel: AbortSignal): Promise<void> {
    const { site } = this;
    if (!again) site.moveDone(rel);
    // An upload kept at start for this file that its job did not use (the check is in memory).
    if (!site.dryRun && site.state.uploads.has(site.keyOf(rel))) {
      await dropUnusedUpload(site, rel, cancel);
    }
    this.jobs.finish(rel, again);
  }
}
