/**
 * A site's jobs, from the feeder to their end. A path is in the pipeline at most once: a new event
 * for a path in flight marks it to be looked at again when the current job ends, and no ending
 * (done, changed meanwhile, failed) drops that mark. A job that failed after its S3 retries is
 * parked and tried again later, never dropped, but for a delete the server refused for good (an
 * Object Lock, a legal hold, a policy): that one is reported once, counted, and left alone until
 * the next full comparison with the bucket tries it again (deletes.ts remembers it until then).
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import { backoffDelay } from "../lib/backoff.ts";
import { errorMessage, isBusy, isNotFound } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import type { ErrorScope, SiteStats } from "../pipeline/context.ts";
import { DeleteRefused } from "../pipeline/deletes.ts";
import { S3Error } from "../store/s3_error.ts";
import type { DuePaths } from "./due.ts";
import { describeFsError } from "./walk.ts";

/** Parked jobs come back after 5 s, 10 s, 20 s ... at most every 5 minutes. */
const PARK_BASE_MS = 5_000;
const PARK_MAX_MS = 5 * 60_000;

/** What the jobs need from their site. */
export interface JobsHost {
  readonly config: SiteConfig;
  readonly due: DuePaths;
  readonly stats: SiteStats;
  readonly once: boolean;
  recordError(scope: ErrorScope, message: string): void;
  notifyIfIdle(): void;
}

export class Jobs {
  /** Paths between the feeder and the end of their job; true: look again when it ends. */
  readonly #inPipeline = new Map<string, boolean>();
  /** Failed attempts of the parked paths. */
  readonly #attempts = new Map<string, number>();

  constructor(private readonly site: JobsHost) {}

  /** Paths in the pipeline. */
  get size(): number {
    return this.#inPipeline.size;
  }

  /** Paths waiting to be tried again after a failure. */
  get parked(): number {
    return this.#attempts.size;
  }

  /** True when `rel` enters the pipeline; false when it is in already (and is marked to rerun). */
  enter(rel: string): boolean {
    if (this.#inPipeline.has(rel)) {
      this.#inPipeline.set(rel, true);
      return false;
    }
    this.#inPipeline.set(rel, false);
    return true;
  }

  /** The path never got into the pipeline after all (its send was aborted). */
  leave(rel: string): void {
    this.#inPipeline.delete(rel);
  }

  /** The job ended well; `again`: the file was changing, look once it is quiet. */
  finish(rel: string, again: boolean): void {
    const { site } = this;
    const rerun = this.#inPipeline.get(rel);
    this.#inPipeline.delete(rel);
    this.#attempts.delete(rel);
    if (again || rerun) site.due.set(rel, Date.now() + (again ? site.config.watchIntervalMs : 0));
    site.notifyIfIdle();
  }

  fail(rel: string, err: unknown, cancel: AbortSignal): void {
    const { site } = this;
    const rerun = this.#inPipeline.get(rel);
    this.#inPipeline.delete(rel);
    if (cancel.aborted) return; // stopping: the next start's reconcile picks it up
    if (isNotFound(err)) {
      // The file went away while it was read (its hash, its upload): not an error, a new look.
      site.due.set(rel, Date.now());
      site.notifyIfIdle();
      return;
    }
    // An event that came in meanwhile is never dropped with the failed job.
    if (rerun) site.due.set(rel, Date.now());
    if (err instanceof DeleteRefused) {
      this.#attempts.delete(rel);
      this.#refused(err);
      site.notifyIfIdle();
      return;
    }
    const cloud = err instanceof S3Error;
    const message = cloud ? errorMessage(err) : `Cannot sync "${rel}": ${describeFsError(err)}`;
    site.recordError(cloud ? "cloud" : "local", message);
    site.stats.failedJobs++;
    // A file another program holds open (Windows) is parked too: it is free once closed.
    if ((cloud || isBusy(err)) && !site.once) {
      const attempts = (this.#attempts.get(rel) ?? 0) + 1;
      this.#attempts.set(rel, attempts);
      const delay = Math.max(PARK_BASE_MS, backoffDelay(attempts, PARK_BASE_MS, PARK_MAX_MS));
      site.due.set(rel, Date.now() + delay);
    }
    site.notifyIfIdle();
  }

  /**
   * Not parked: parking would ask again every 5 minutes, forever, and be refused each time. The
   * next full comparison (`reconcile_interval`) tries once more, quietly: a lock may have expired.
   * Counted and reported the first time only, so that a locked object is one error, not one a pass.
   */
  #refused(err: DeleteRefused): void {
    const { site } = this;
    const fields = { site: site.config.name, key: err.key, reason: err.reason };
    if (err.known) {
      log.debug("still cannot delete (refused by the server)", fields);
      return;
    }
    site.stats.recordError("cloud", err.message);
    site.stats.failedJobs++;
    log.warn(
      "cannot delete (refused by the server: a bucket policy or permission); not retried " +
        "until the next full comparison",
      fields,
    );
  }
}
