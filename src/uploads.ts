/**
 * Who may upload how much, for one generation: the uploads in flight (a fixed number shared by all
 * sites, as the Go tool's `upload_workers`, or with "auto" one adaptive limit per endpoint, so that
 * one server's throttling never slows sites on another) and the bandwidth limits (one for all sites,
 * kept by the daemon across reloads, and one per site that sets its own).
 * @module
 */

import type { Config, SiteConfig } from "./config/types.ts";
import { AdaptiveConcurrency, type Change } from "./lib/concurrency.ts";
import { Limiter } from "./lib/limiter.ts";
import { log } from "./lib/log.ts";
import { paceAll, TokenBucket } from "./lib/token_bucket.ts";
import type { UploadHooks } from "./store/s3.ts";
import { endpointOf } from "./store/s3_client.ts";

/** Where "auto" starts: the Go tool's default, right for most links, and grown from there. */
export const AUTO_INITIAL = 10;
/** Where "auto" stops: past it a link is better served by larger parts than by more requests. */
export const AUTO_MAX = 256;

export interface SiteUploads {
  readonly limiter: Limiter;
  /** The most the limiter will ever allow: what the site sizes its queues for. */
  readonly max: number;
  readonly hooks: UploadHooks;
}

export interface EndpointConcurrency {
  readonly endpoint: string;
  readonly limit: number;
  readonly change: Change;
  readonly reason: string;
  readonly changes: Readonly<Record<string, number>>;
}

export class Uploads {
  readonly #fixed: Limiter | undefined;
  readonly #endpoints = new Map<string, AdaptiveConcurrency>();

  /** `total` is the limit of all sites together; the daemon keeps it, and its rate, across reloads. */
  constructor(config: Config, readonly total: TokenBucket) {
    if (config.uploadWorkers !== "auto") this.#fixed = new Limiter(config.uploadWorkers);
  }

  forSite(site: SiteConfig): SiteUploads {
    // Only limits that are set: without one, bodies go out whole instead of in paced slices. The
    // global rate is the config's, set before this generation was made, so it cannot appear later.
    const buckets = [
      ...(site.bandwidthLimit > 0 ? [new TokenBucket(site.bandwidthLimit)] : []),
      ...(this.total.bytesPerSecond > 0 ? [this.total] : []),
    ];
    const pace = paceAll(buckets);
    if (this.#fixed) return { limiter: this.#fixed, max: this.#fixed.limit, hooks: { pace } };
    const control = this.#forEndpoint(endpointOf(site));
    const observe = control.observe.bind(control);
    return { limiter: control.limiter, max: AUTO_MAX, hooks: { pace, observe } };
  }

  /** Uploads allowed in flight now, all endpoints together: /info's UPLOADWORKERS. */
  get workers(): number {
    if (this.#fixed) return this.#fixed.limit;
    let sum = 0;
    for (const control of this.#endpoints.values()) sum += control.limit;
    return sum;
  }

  /** Each endpoint's adaptive limit and why it last changed; none with a fixed number. */
  endpoints(): EndpointConcurrency[] {
    return [...this.#endpoints].map(([endpoint, c]) => ({
      endpoint,
      limit: c.limit,
      change: c.change,
      reason: c.reason,
      changes: { ...c.changes },
    }));
  }

  #forEndpoint(endpoint: string): AdaptiveConcurrency {
    let control = this.#endpoints.get(endpoint);
    if (!control) {
      control = new AdaptiveConcurrency({
        initial: AUTO_INITIAL,
        max: AUTO_MAX,
        onChange: (limit, change, reason) => {
          // Growth is routine and frequent at start; pushback is worth an operator's eye.
          const level = change === "grow" ? "debug" : "info";
          log[level]("upload concurrency changed", { endpoint, limit, reason });
        },
      });
      this.#endpoints.set(endpoint, control);
    }
    return control;
  }
}
