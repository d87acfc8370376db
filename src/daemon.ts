/**
 * The long-running service: one generation (see generation.ts) at a time, replaced on reload. A
 * reload stops the running generation, letting uploads in flight finish, and starts the next;
 * what did not finish is found again by the next generation's first comparison, so nothing is
 * lost or done twice.
 * @module
 */

import type { LoadedConfig } from "./config/load.ts";
import type { Config } from "./config/types.ts";
import { TokenBucket } from "./lib/token_bucket.ts";
import { Generation, type GenerationOptions } from "./generation.ts";
import { ConfigError, errorMessage } from "./lib/errors.ts";
import { log, registerSecret, setLogFormat, setLogLevel } from "./lib/log.ts";

export type ServiceStatus = "STARTING" | "RUNNING" | "RELOADING" | "STOPPING";

/** Makes the config take effect beyond the sites: log level and format, secrets to mask. */
export function applyProcessSettings(config: Config, { first }: { first: boolean }): void {
  // As the Go tool: a reload may make logging more verbose, never less.
  setLogLevel(config.logLevel, { allowLower: first });
  setLogFormat(config.logFormat);
  for (const site of config.sites) {
    registerSecret(site.credentials?.accessKeyId);
    registerSecret(site.credentials?.secretAccessKey);
    if (site.encryption?.kind === "customer") registerSecret(site.encryption.key.reveal());
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
  /** `bandwidth_limit` of all sites: one bucket for the daemon's life, its rate set by each config. */
  readonly #bandwidth = new TokenBucket(0);

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
    this.#bandwidth.bytesPerSecond = config.bandwidthLimit;
    const bandwidth = this.#bandwidth;
    return new Generation(config, { ...this.options, once: false, dryRun: false, bandwidth });
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
