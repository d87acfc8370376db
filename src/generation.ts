/**
 * A generation: the sites of one config, running on shared checksum and upload limiters, hashing
 * threads and state store. Stopping it first stops intake (watchers and feeders; the stages
 * drain), then, after a grace period, cancels S3 calls still in flight; what did not finish is
 * found again by the next generation's first comparison. A multipart upload cut short that way is
 * kept, with its record in the state store, and the next generation resumes it (transfer.ts).
 * @module
 */

import type { Config, SiteConfig } from "./config/types.ts";
import { Limiter } from "./lib/limiter.ts";
import { log } from "./lib/log.ts";
import { HashPool } from "./pipeline/hash_pool.ts";
import { MountMemory, MOUNTS_FILE } from "./site/mounts.ts";
import { Site } from "./site/site.ts";
import { ListingStore } from "./state/listing.ts";
import { type SiteState, StateStore } from "./state/store.ts";
import { createS3Store, type UploadHooks } from "./store/s3.ts";
import { TokenBucket } from "./lib/token_bucket.ts";
import { AUTO_MAX, Uploads } from "./uploads.ts";
import type { ObjectStore } from "./store/types.ts";

export interface GenerationOptions {
  readonly once: boolean;
  readonly dryRun: boolean;
  /**
   * False (`--once --verify`): what the state store remembers is not believed, so every file
   * whose object has its size is compared by content; what is confirmed is still recorded.
   * Default true.
   */
  readonly trustState?: boolean;
  /** Tests swap the store; the daemon always uses S3. */
  readonly createStore?: (
    site: SiteConfig,
    maxSockets: number,
    uploads: UploadHooks,
  ) => ObjectStore;
  /**
   * The bandwidth limit of all sites together. The daemon passes the same one to every generation
   * (with the rate of the config), so that a reload does not let a burst through.
   */
  readonly bandwidth?: TokenBucket;
  readonly onUpload?: (site: string, seconds: number) => void;
}

export interface Summary {
  readonly checked: number;
  readonly uploaded: number;
  readonly copied: number;
  readonly deleted: number;
  readonly bytes: number;
  readonly errors: number;
  readonly failed: number;
  readonly seconds: number;
}

export class Generation {
  readonly sites: readonly Site[];
  readonly checksum: Limiter;
  readonly uploads: Uploads;
  readonly #hashes: HashPool;
  readonly #state: StateStore;
  readonly #listings: ListingStore;
  readonly #intake = new AbortController();
  readonly #cancel = new AbortController();
  readonly #started = performance.now();
  #running: Promise<void> | undefined;

  constructor(readonly config: Config, options: GenerationOptions) {
    this.checksum = new Limiter(config.checksumWorkers);
    this.uploads = new Uploads(config, options.bandwidth ?? new TokenBucket(config.bandwidthLimit));
    this.#hashes = new HashPool(config.checksumWorkers);
    this.#state = StateStore.open(config.stateDir);
    this.#listings = ListingStore.open(config.stateDir);
    const createStore = options.createStore ?? createS3Store;
    const uploadMax = config.uploadWorkers === "auto" ? AUTO_MAX : config.uploadWorkers;
    // A socket for each upload and checksum worker; a multipart upload's parts share its own.
    const sockets = uploadMax + config.checksumWorkers;
    const trust = options.trustState ?? true;
    const roots = config.sites.map((site) => site.localPath);
    const mounts = new MountMemory(`${config.stateDir}/${MOUNTS_FILE}`, roots);
    this.sites = config.sites.map((site) => {
      // Keyed by what the site syncs, not by its name, which a user may change.
      const state = this.#state.forSite(
        [site.endpoint ?? "aws", site.bucket, site.bucketPath, site.localPath].join(" "),
      );
      const uploads = this.uploads.forSite(site);
      return new Site(site, createStore(site, sockets, uploads.hooks), {
        state: trust ? state : writeOnly(state),
        listings: this.#listings,
        hashes: this.#hashes,
        checksum: this.checksum,
        upload: uploads.limiter,
        uploadMax: uploads.max,
        uploadQueueBuffer: config.uploadQueueBuffer,
        once: options.once || options.dryRun,
        dryRun: options.dryRun,
        onUpload: options.onUpload,
        mounts,
      });
    });
  }

  /** Starts every site; resolves when all have ended (with --once, when all are synced). */
  run(): Promise<void> {
    this.#running ??= Promise.all(
      this.sites.map((site) =>
        site.run(this.#intake.signal, this.#cancel.signal).catch((err) => {
          // A bug in one site must not take the others down; it is loud, and the rest keep going.
          log.error("site stopped unexpectedly", { site: site.config.name, error: String(err) });
        })
      ),
    ).then(() => {
      for (const site of this.sites) site.store.close?.();
      this.#hashes.close();
      this.#state.close();
      this.#listings.close();
    });
    return this.#running;
  }

  /** Stops intake, lets in-flight work finish for up to `graceMs`, then cancels the rest. */
  async stop(graceMs: number): Promise<void> {
    this.#intake.abort(new DOMException("Stopping", "AbortError"));
    const running = this.#running ?? Promise.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
    await Promise.race([running, grace]);
    clearTimeout(timer);
    this.#cancel.abort(new DOMException("Cancelled", "AbortError"));
    await running;
  }

  /** Cancels S3 calls in flight now, without waiting for the grace period to end. */
  cancel(): void {
    this.#cancel.abort(new DOMException("Cancelled", "AbortError"));
  }

  summary(): Summary {
    const total = (pick: (site: Site) => number) =>
      this.sites.reduce((sum, site) => sum + pick(site), 0);
    return {
      checked: total((s) => s.stats.checked),
      uploaded: total((s) => s.stats.uploaded),
      copied: total((s) => s.stats.copied),
      deleted: total((s) => s.stats.deleted),
      bytes: total((s) => s.stats.bytesUploaded),
      errors: total((s) => s.stats.errorCount),
      failed: total((s) => s.stats.failedJobs),
      seconds: (performance.now() - this.#started) / 1000,
    };
  }
}

/**
 * A site's state with its memory switched off: reads find nothing, writes go through, so a run
 * that trusts nothing still leaves a state store the next run can trust. Every method is spelled
 * out, so that a new read added to SiteState must be decided on here.
 */
function writeOnly(state: SiteState): SiteState {
  return {
    get: () => undefined,
    put: (rel, file) => state.put(rel, file),
    delete: (rel) => state.delete(rel),
    findMoved: () => undefined,
    // Trusted as before: a resume re-reads every part it skips and compares it with the server's.
    uploads: state.uploads,
  };
}
