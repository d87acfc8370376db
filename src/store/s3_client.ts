/**
 * The SDK client of a site (its endpoint, region, credentials and sockets), and what every S3 call
 * of `S3Store` shares: the context the operations (s3_objects.ts, s3_multipart.ts, s3_listing.ts)
 * take, and the one wrapper that retries a call and names its failure.
 * @module
 */

import { S3Client } from "@aws-sdk/client-s3";
import type { SiteConfig } from "../config/types.ts";
import { log } from "../lib/log.ts";
import { withRetry } from "./retry.ts";
import { S3Error } from "./s3_error.ts";
import type { S3Http } from "./s3_http.ts";
import { createTransport, type Transport } from "./transport.ts";

export type S3Settings = Pick<
  SiteConfig,
  | "name"
  | "endpoint"
  | "bucket"
  | "bucketRegion"
  | "credentials"
  | "s3OpsRetries"
  | "requestTimeoutMs"
  | "encryption"
>;

/** What every operation of one site's store needs; built once by `S3Store`. */
export interface S3Context {
  readonly site: S3Settings;
  readonly bucket: string;
  readonly client: S3Client;
  /** Our own signed requests: the PUTs with a body, and the deletes. */
  readonly http: S3Http;
}

/** Runs `run` with the site's retries; a failure for good becomes an `S3Error` naming `key`. */
export async function callS3<T>(
  s3: S3Context,
  operation: string,
  key: string,
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await withRetry(run, { retries: s3.site.s3OpsRetries, signal });
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw new S3Error(operation, s3.site.name, s3.bucket, key, err);
  }
}

/** Quotes are part of the ETag on the wire, never part of the value we compare. */
export const unquote = (etag: string | undefined): string => (etag ?? "").replaceAll('"', "");

const sdkLogger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (...args: unknown[]) => log.debug("AWS SDK", { warning: args.map(String).join(" ") }),
  error: (...args: unknown[]) => log.debug("AWS SDK", { error: args.map(String).join(" ") }),
};

/**
 * A client whose requests go through `transport`'s agents (proxy, trusted CAs, socket pool), or
 * through agents of its own with that many sockets.
 */
export function createS3Client(
  site: S3Settings & Pick<SiteConfig, "caBundle" | "proxy">,
  transport: Pick<Transport, "httpAgent" | "httpsAgent"> | number,
): S3Client {
  const agents = typeof transport === "number"
    ? createTransport(endpointOf(site), {
      maxSockets: transport,
      proxy: site.proxy,
      caBundle: site.caBundle,
    })
    : transport;
  return new S3Client({
    region: site.bucketRegion,
    endpoint: site.endpoint,
    // Custom endpoints are S3-compatible servers, which rarely support virtual-host addressing.
    forcePathStyle: site.endpoint !== undefined,
    // A copy: the config is frozen, and the SDK marks the object it is given.
    credentials: site.credentials ? { ...site.credentials } : undefined,
    // withRetry() owns retries, so that a stream body is recreated for each attempt.
    maxAttempts: 1,
    // The SDK's default CRC32 with aws-chunked bodies is refused or mangled by many S3-compatible
    // servers; Content-Length and Content-MD5 are what they all accept.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // The SDK's own warnings go through our logger (and its format), never straight to stderr.
    logger: sdkLogger,
    requestHandler: {
      httpAgent: agents.httpAgent,
      httpsAgent: agents.httpsAgent,
      connectionTimeout: 10_000,
      // The SDK's requestTimeout only warns; socketTimeout fails a request once no byte has
      // moved either way for that long, which is what request_timeout promises.
      socketTimeout: site.requestTimeoutMs,
    },
  });
}

/**
 * The server a site talks to: its endpoint, or AWS's regional one. What the proxy decision, the
 * log and the per-endpoint upload concurrency key on.
 */
export const endpointOf = (site: Pick<S3Settings, "endpoint" | "bucketRegion">): string =>
  site.endpoint ?? `https://s3.${site.bucketRegion}.amazonaws.com`;
