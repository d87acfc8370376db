/**
 * The daemon owns a generation: the sites of one config, running on shared checksum and upload
 * limiters. Stopping a generation first stops intake (watchers and feeders; the stages drain),
 * then, after a grace period, cancels S3 calls still in flight (multipart uploads are aborted). A
 * reload stops the running generation that way and starts the next; what did not finish is found
 * again by the next generation's first comparison, so nothing is lost or done twice.
 * @module
 */

import type { LoadedConfig } from "./config/load.ts";
import type { Config, SiteConfig } from "./config/types.ts";
import { ConfigError, errorMessage } from "./lib/errors.ts";
import { Limiter } from "./lib/limiter.ts";
import { log, registerSecret, setLogFormat, setLogLevel } from "./lib/log.ts";
import { HashPool } from "./pipeline/hash_pool.ts";
import { Site } from "./site/site.ts";
import { StateStore } from "./state/store.ts";
import { createS3Store } from "./store/s3.ts";
import type { ObjectStore } from "./store/types.ts";

export interface GenerationOptions {
  readonly once: boolean;
  readonly dryRun: boolean;
  /** Tests swap the store; the daemon always uses S3. */
  readonly createStore?: (site: SiteConfig, maxSockets: number) => ObjectStore;
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
  readonly upload: Limiter;
  readonly #hashes: HashPool;
  readonly #state: StateStore;
  readonly #intake = new AbortController();
  readonly #cancel = new AbortController();
  readonly #started = performance.now();
  #running: Promise<void> | undefined;

  constructor(readonly config: Config, options: GenerationOptions) {
    this.checksum = new Limiter(config.checksumWorkers);
    this.upload = new Limiter(config.uploadWorkers);
    this.#hashes = new HashPool(config.checksumWorkers);
    this.#state = StateStore.open(config.stateDir);
    const createStore = options.createStore ?? createS3Store;
    const sockets = config.uploadWorkers + config.checksumWorkers;
    this.sites = config.sites.map((site) =>
      new Site(site, createStore(site, sockets), {
        // Keyed by what the site syncs, not by its name, which a user may change.
        state: this.#state.forSite(
          [site.endpoint ?? "aws", site.bucket, site.bucketPath, site.localPath].join(" "),
        ),
        hashes: this.#hashes,
        checksum: this.checksum,
        upload: this.upload,
        uploadQueueBuffer: config.uploadQueueBuffer,
        once: options.once || options.dryRun,
        dryRun: options.dryRun,
        onUpload: options.onUpload,
      })
    );
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
      this.#hashes.close();
      this.#state.close();
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

export type ServiceStatus = "STARTING" | "RUNNING" | "RELOADING" | "STOPPING";

/** Makes the config take effect beyond the sites: log level and format, secrets to mask. */
export function applyProcessSettings(config: Config, { first }: { first: boolean }): void {
  // As the Go tool: a reload may make logging more verbose, never less.
  setLogLevel(config.logLevel, { allowLower: first });
  setLogFormat(config.logFormat);
  for (const site of config.sites) {
    registerSecret(site.credentials?.accessKeyId);
    registerSecret(site.credentials?.secretAccessKey);
  }
}

/**
 * The long-running service: one generation at a time, replaced on reload. Reloads are
 * single-flight: one asked for while another runs is merged into a single follow-up.
 */
export class Daemon {
  readonly startupTime = new Date();
  status: ServiceStatus = "STARTING";
  readonly reloads = { succeeded: 0, failed: 0 };
  /** The last reload's error, until a reload succeeds. */
  reloadError: string | undefined;
  #generation: Generation;
  #text: string;
  #reloading: Promise<void> | undefined;
  #followUp: { force: boolean } | undefined;
  #stopped: Promise<void> | undefined;

  constructor(
    initial: LoadedConfig,
    private readonly load: () => Promise<LoadedConfig>,
    private readonly options: Omit<GenerationOptions, "once" | "dryRun"> = {},
  ) {
    this.#text = initial.text;
    this.#generation = this.#newGeneration(initial.config);
  }

  get generation(): Generation {
    return this.#generation;
  }

  start(): void {
    void this.#generation.run();
    this.status = "RUNNING";
  }

  requestReload(force: boolean): void {
    if (this.status === "STOPPING") return;
    if (this.#reloading) {
      this.#followUp = { force: (this.#followUp?.force ?? false) || force };
      return;
    }
    this.#reloading = this.#reloadLoop(force).finally(() => this.#reloading = undefined);
  }

  /** Resolves when the reloads asked for so far are done (tests wait on it). */
  async reloaded(): Promise<void> {
    while (this.#reloading) await this.#reloading;
  }

  async #reloadLoop(force: boolean): Promise<void> {
    let next: { force: boolean } | undefined = { force };
    while (next && this.status !== "STOPPING") {
      this.#followUp = undefined;
      await this.#reloadOnce(next.force);
      next = this.#followUp;
    }
  }

  async #reloadOnce(force: boolean): Promise<void> {
    let loaded: LoadedConfig;
    try {
      loaded = await this.load();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.reloadError = err.message;
      this.reloads.failed++;
      log.error("reload failed, the running config stays", { error: err.message });
      return;
    }
    if (!force && loaded.text === this.#text) {
      log.info("no config changes detected, reload cancelled");
      this.reloadError = undefined;
      return;
    }
    for (const warning of loaded.warnings) log.warn(warning);
    this.status = "RELOADING";
    log.info("reloading", { sites: loaded.config.sites.length, force });
    await this.#generation.stop(this.#generation.config.shutdownTimeoutMs);
    applyProcessSettings(loaded.config, { first: false });
    this.#text = loaded.text;
    this.#generation = this.#newGeneration(loaded.config);
    void this.#generation.run();
    this.reloadError = undefined;
    this.reloads.succeeded++;
    if (this.status === "RELOADING") this.status = "RUNNING";
    log.info("config reloaded", { sites: loaded.config.sites.length });
  }

  #newGeneration(config: Config): Generation {
    return new Generation(config, { ...this.options, once: false, dryRun: false });
  }

  /** Stops intake, lets in-flight work finish within the grace period, then cancels the rest. */
  stop(): Promise<void> {
    this.status = "STOPPING";
    this.#stopped ??= (async () => {
      await this.#reloading?.catch((err) =>
        log.error("reload failed", { error: errorMessage(err) })
      );
      await this.#generation.stop(this.#generation.config.shutdownTimeoutMs);
    })();
    return this.#stopped;
  }

  /** A second stop signal: do not wait for uploads in flight. */
  stopNow(): void {
    this.#generation.cancel();
  }
}
