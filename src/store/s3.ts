/**
 * The S3 implementation of `ObjectStore`, and with the files it delegates to (s3_client.ts,
 * s3_objects.ts, s3_copy.ts, s3_multipart.ts, s3_listing.ts) the only code that imports the AWS
 * SDK. One client per site: its endpoint, region, credentials and retry budget.
 * @module
 */

import type { S3Client } from "@aws-sdk/client-s3";
import type { SiteConfig } from "../config/types.ts";
import { log } from "../lib/log.ts";
import { listSequential } from "./list_parallel.ts";
import { createS3Client, endpointOf, type S3Context, type S3Settings } from "./s3_client.ts";
import * as copies from "./s3_copy.ts";
import { type HttpOptions, S3Http } from "./s3_http.ts";
import * as listings from "./s3_listing.ts";
import * as multipart from "./s3_multipart.ts";
import * as objects from "./s3_objects.ts";
import { encryptionFields, encryptionFingerprint } from "./sse.ts";
import { createTransport, logTransport } from "./transport.ts";
import type {
  CompletedPart,
  CopyOptions,
  ListedPage,
  ListPageOptions,
  ObjectInfo,
  ObjectStore,
  PendingUpload,
  PutOptions,
  RemoteObject,
  UploadedPart,
} from "./types.ts";

/** What the generation wants told about, and to decide on, each upload: concurrency and rate. */
export type UploadHooks = Pick<HttpOptions, "observe" | "pace">;

export class S3Store implements ObjectStore {
  readonly bucket: string;
  readonly uploadEncryption: string | undefined;
  readonly #s3: S3Context;

  constructor(
    site: S3Settings,
    client: S3Client,
    options: Omit<HttpOptions, "clock">,
  ) {
    this.bucket = site.bucket;
    this.uploadEncryption = encryptionFingerprint(site.encryption);
    // The SDK's credential chain (site keys, environment, shared files, instance role), cached
    // and refreshed by the SDK, signs our own requests too; and the offset to the server's clock
    // that the SDK keeps in its config serves both.
    const clock = client.config as { systemClockOffset?: number };
    const http = new S3Http(site, () => client.config.credentials(), { ...options, clock });
    this.#s3 = { site, bucket: site.bucket, client, http };
  }

  list(prefix: string, signal?: AbortSignal): AsyncGenerator<RemoteObject[]> {
    return listSequential(this, prefix, signal);
  }

  listPage(prefix: string, options: ListPageOptions, signal?: AbortSignal): Promise<ListedPage> {
    return listings.listPage(this.#s3, prefix, options, signal);
  }

  head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    return objects.head(this.#s3, key, signal);
  }

  put(
    key: string,
    body: Uint8Array,
    md5Base64: string,
    options: PutOptions,
    signal?: AbortSignal,
  ): Promise<{ etag: string }> {
    return objects.put(this.#s3, key, body, md5Base64, options, signal);
  }

  createMultipart(key: string, options: PutOptions, signal?: AbortSignal): Promise<string> {
    return multipart.createMultipart(this.#s3, key, options, signal);
  }

  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
    md5Base64: string,
    signal?: AbortSignal,
  ): Promise<CompletedPart> {
    return multipart.uploadPart(this.#s3, key, uploadId, partNumber, body, md5Base64, signal);
  }

  completeMultipart(
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
    signal?: AbortSignal,
  ): Promise<{ etag: string }> {
    return multipart.completeMultipart(this.#s3, key, uploadId, parts, signal);
  }

  abortMultipart(key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    return multipart.abortMultipart(this.#s3, key, uploadId, signal);
  }

  listMultipartUploads(prefix: string, signal?: AbortSignal): Promise<PendingUpload[]> {
    return listings.listMultipartUploads(this.#s3, prefix, signal);
  }

  listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<UploadedPart[]> {
    return listings.listParts(this.#s3, key, uploadId, signal);
  }

  copy(
    source: string,
    key: string,
    options: CopyOptions,
    ifMatch: string,
    signal?: AbortSignal,
  ): Promise<{ etag: string }> {
    return copies.copy(this.#s3, source, key, options, ifMatch, signal);
  }

  uploadPartCopy(
    source: string,
    key: string,
    uploadId: string,
    partNumber: number,
    range: { readonly start: number; readonly end: number },
    ifMatch: string,
    signal?: AbortSignal,
  ): Promise<CompletedPart> {
    const s3 = this.#s3;
    return copies.uploadPartCopy(s3, source, key, uploadId, partNumber, range, ifMatch, signal);
  }

  deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<Map<string, string>> {
    return objects.deleteMany(this.#s3, keys, signal);
  }

  deleteOne(key: string, signal?: AbortSignal): Promise<void> {
    return objects.deleteOne(this.#s3, key, signal);
  }

  close(): void {
    // The SDK's handler destroys the agents it was given: those S3Http uses too.
    this.#s3.client.destroy();
  }
}

/** The store for one site, with enough sockets for every upload and checksum worker to have one. */
export function createS3Store(
  site: S3Settings & Pick<SiteConfig, "caBundle" | "proxy">,
  maxSockets: number,
  uploads: UploadHooks = {},
): ObjectStore {
  // One set of agents for both request paths: the SDK's and S3Http's go through the same proxy,
  // trust the same CAs and share the sockets.
  const endpoint = endpointOf(site);
  const transport = createTransport(endpoint, {
    maxSockets,
    proxy: site.proxy,
    caBundle: site.caBundle,
  });
  logTransport(endpoint, transport, site.caBundle);
  if (site.encryption) {
    log.info("objects written are encrypted", {
      site: site.name,
      ...encryptionFields(site.encryption),
    });
  }
  return new S3Store(site, createS3Client(site, transport), {
    idleMs: site.requestTimeoutMs,
    agentFor: transport.agentFor,
    ...uploads,
  });
}
