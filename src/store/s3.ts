/**
 * The S3 implementation of `ObjectStore`, and the only module that imports the AWS SDK. One client
 * per site: its endpoint, region, credentials and retry budget.
 * @module
 */

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  type ObjectCannedACL,
  S3Client,
  type StorageClass,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import type { SiteConfig } from "../config/types.ts";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { errorCode, httpStatus, withRetry } from "./retry.ts";
import { listSequential } from "./list_parallel.ts";
import { decodeListedKey, type HttpOptions, S3Http } from "./s3_http.ts";
import { createTransport, logTransport, type Transport } from "./transport.ts";
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

/** An S3 call that failed for good: names the operation, site, bucket and key, and keeps the cause. */
export class S3Error extends Error {
  readonly code: string | undefined;
  readonly status: number | undefined;
  constructor(operation: string, site: string, bucket: string, key: string, cause: unknown) {
    const code = errorCode(cause);
    const status = httpStatus(cause);
    const detail = [code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(", ");
    const reason = errorMessage(cause);
    const what = key ? `"${key}" in bucket "${bucket}"` : `bucket "${bucket}"`;
    const hint = code ? HINTS.get(code) : undefined;
    super(
      `Cannot ${operation} ${what} (site "${site}"): ` +
        (detail && !reason.includes(detail) ? `${reason} (${detail})` : reason) +
        (hint ? `: ${hint}` : ""),
      { cause },
    );
    this.name = "S3Error";
    this.code = code;
    this.status = status;
  }
}

/** What to do about an S3 error code whose own message does not say. */
const HINTS: ReadonlyMap<string, string> = new Map([
  // AWS's default for new buckets (Object Ownership "bucket owner enforced"): every ACL but
  // bucket-owner-full-control is refused with 400, so retrying cannot help (retry.ts does not).
  [
    "AccessControlListNotSupported",
    "the bucket has ACLs disabled (Object Ownership: bucket owner enforced): remove acl from " +
    "the config, or use acl: bucket-owner-full-control",
  ],
]);

export type S3Settings = Pick<
  SiteConfig,
  | "name"
  | "endpoint"
  | "bucket"
  | "bucketRegion"
  | "credentials"
  | "s3OpsRetries"
  | "requestTimeoutMs"
>;

/** What the generation wants told about, and to decide on, each upload: concurrency and rate. */
export type UploadHooks = Pick<HttpOptions, "observe" | "pace">;

/** Quotes are part of the ETag on the wire, never part of the value we compare. */
const unquote = (etag: string | undefined): string => (etag ?? "").replaceAll('"', "");

/** Keeps the slashes of a key and escapes everything else, as CopySource requires. */
const copySource = (bucket: string, key: string): string =>
  `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;

/**
 * A copy that only happens while the source has the ETag `ifMatch`. Ceph RGW 16 ignores the
 * standard `x-amz-copy-source-if-match` and reads its own `x-amz-copy-if-match`, so both go out;
 * the middleware adds the second before the request is signed.
 */
function pinned<C extends CopyObjectCommand | UploadPartCopyCommand>(
  command: C,
  ifMatch: string,
): C {
  const rgwHeader = <A extends { request: unknown }, R>(next: (args: A) => R) => (args: A): R => {
    const request = args.request as { headers?: Record<string, string> };
    if (request.headers) request.headers["x-amz-copy-if-match"] = `"${ifMatch}"`;
    return next(args);
  };
  const options = { step: "build", name: "rgwCopyIfMatch" } as const;
  if (command instanceof CopyObjectCommand) command.middlewareStack.add(rgwHeader, options);
  else command.middlewareStack.add(rgwHeader, options);
  return command;
}

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

export class S3Store implements ObjectStore {
  readonly bucket: string;
  readonly #client: S3Client;
  readonly #http: S3Http;
  readonly #site: S3Settings;

  constructor(
    site: S3Settings,
    client: S3Client,
    options: Omit<HttpOptions, "clock">,
  ) {
    this.bucket = site.bucket;
    this.#site = site;
    this.#client = client;
    // The SDK's credential chain (site keys, environment, shared files, instance role), cached
    // and refreshed by the SDK, signs our own requests too; and the offset to the server's clock
    // that the SDK keeps in its config serves both.
    const clock = client.config as { systemClockOffset?: number };
    this.#http = new S3Http(site, () => client.config.credentials(), { ...options, clock });
  }

  async #call<T>(
    operation: string,
    key: string,
    signal: AbortSignal | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      return await withRetry(run, { retries: this.#site.s3OpsRetries, signal });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new S3Error(operation, this.#site.name, this.bucket, key, err);
    }
  }

  list(prefix: string, signal?: AbortSignal): AsyncGenerator<RemoteObject[]> {
    return listSequential(this, prefix, signal);
  }

  async listPage(
    prefix: string,
    options: ListPageOptions,
    signal?: AbortSignal,
  ): Promise<ListedPage> {
    return await this.#call("list", prefix, signal, async () => {
      const out = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix || undefined,
          Delimiter: options.delimiter,
          StartAfter: options.continuationToken ? undefined : options.startAfter || undefined,
          ContinuationToken: options.continuationToken,
          MaxKeys: options.maxKeys,
          // Keys XML 1.0 cannot carry (U+0001, say) come back intact only URL-encoded.
          EncodingType: "url",
        }),
        { abortSignal: signal },
      );
      // AWS and RGW both say so when they encoded; a server that ignored the request did not.
      const decode = out.EncodingType === "url" ? decodeListedKey : (key: string) => key;
      return {
        objects: (out.Contents ?? []).map((item) => ({
          key: decode(item.Key ?? ""),
          size: item.Size ?? 0,
          etag: unquote(item.ETag),
          storageClass: item.StorageClass ?? "STANDARD",
        })),
        // RGW leaves the slash of a prefix unencoded and AWS encodes it: decoding reads both.
        prefixes: (out.CommonPrefixes ?? []).map((item) => decode(item.Prefix ?? "")),
        next: out.IsTruncated ? out.NextContinuationToken : undefined,
      };
    });
  }

  async head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
    try {
      const out = await this.#call(
        "read the metadata of",
        key,
        signal,
        () =>
          this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), {
            abortSignal: signal,
          }),
      );
      return {
        key,
        size: out.ContentLength ?? 0,
        etag: unquote(out.ETag),
        storageClass: out.StorageClass ?? "STANDARD",
        contentType: out.ContentType,
        metadata: out.Metadata ?? {},
      };
    } catch (err) {
      if (err instanceof S3Error && err.status === 404) return undefined;
      throw err;
    }
  }

  async put(
    key: string,
    body: Uint8Array,
    md5Base64: string,
    options: PutOptions,
    signal?: AbortSignal,
  ): Promise<{ etag: string }> {
    const headers: Record<string, string> = {
      "content-type": options.contentType,
      "x-amz-storage-class": options.storageClass,
    };
    if (options.acl) headers["x-amz-acl"] = options.acl;
    for (const [name, value] of Object.entries(options.metadata ?? {})) {
      headers[`x-amz-meta-${name.toLowerCase()}`] = value;
    }
    const etag = await this.#call(
      "upload",
      key,
      signal,
      () => this.#http.put(key, { body, md5Base64, headers }, signal),
    );
    return { etag };
  }

  async createMultipart(key: string, options: PutOptions, signal?: AbortSignal): Promise<string> {
    const out = await this.#call(
      "start a multipart upload of",
      key,
      signal,
      () =>
        this.#client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.bucket,
            Key: key,
            StorageClass: options.storageClass as StorageClass,
            ACL: options.acl as ObjectCannedACL | undefined,
            ContentType: options.contentType,
            Metadata: options.metadata ? { ...options.metadata } : undefined,
          }),
          { abortSignal: signal },
        ),
    );
    if (!out.UploadId) {
      throw new S3Error(
        "start a multipart upload of",
        this.#site.name,
        this.bucket,
        key,
        "no UploadId",
      );
    }
    return out.UploadId;
  }

  async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
    md5Base64: string,
    signal?: AbortSignal,
  ): Promise<CompletedPart> {
    const query = { partNumber: String(partNumber), uploadId };
    const etag = await this.#call(
      `upload part ${partNumber} of`,
      key,
      signal,
      () => this.#http.put(key, { body, md5Base64, query }, signal),
    );
    return { partNumber, etag };
  }

  async completeMultipart(
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
    signal?: AbortSignal,
  ): Promise<void> {
    await this.#call("complete the multipart upload of", key, signal, () =>
      this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"` })),
          },
        }),
        { abortSignal: signal },
      ));
  }

  async abortMultipart(key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#call("abort the multipart upload of", key, signal, () =>
        this.#client.send(
          new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
          { abortSignal: signal },
        ));
    } catch (err) {
      // Already gone is what we wanted.
      if (err instanceof S3Error && err.status === 404) return;
      throw err;
    }
  }

  async listMultipartUploads(prefix: string, signal?: AbortSignal): Promise<PendingUpload[]> {
    const found: PendingUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.#call(
        "list the multipart uploads under",
        prefix,
        signal,
        async () => {
          const out = await this.#client.send(
            new ListMultipartUploadsCommand({
              Bucket: this.bucket,
              Prefix: prefix || undefined,
              KeyMarker: keyMarker,
              UploadIdMarker: uploadIdMarker,
              EncodingType: "url",
            }),
            { abortSignal: signal },
          );
          // Decoded whatever the response says: RGW encodes these keys but, unlike AWS, sends no
          // EncodingType element to say so.
          const uploads: PendingUpload[] = [];
          for (const { Key: key, UploadId: uploadId, Initiated: initiated } of out.Uploads ?? []) {
            if (key && uploadId) uploads.push({ key: decodeListedKey(key), uploadId, initiated });
          }
          return { uploads, truncated: out.IsTruncated === true };
        },
      );
      found.push(...page.uploads);
      // The next page starts after this page's last upload, which is what NextKeyMarker names;
      // but AWS URL-encodes NextKeyMarker and RGW does not, so the decoded key is the safe marker.
      const last = page.uploads.at(-1);
      keyMarker = page.truncated ? last?.key : undefined;
      uploadIdMarker = page.truncated ? last?.uploadId : undefined;
    } while (keyMarker);
    return found;
  }

  async copy(
    source: string,
    key: string,
    { storageClass, acl }: CopyOptions,
    ifMatch: string,
    signal?: AbortSignal,
  ): Promise<{ etag: string }> {
    const what = source === key
      ? `change the storage class to ${storageClass} of`
      : `copy "${source}" to`;
    const out = await this.#call(what, key, signal, () =>
      this.#client.send(
        pinned(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: key,
            CopySource: copySource(this.bucket, source),
            CopySourceIfMatch: `"${ifMatch}"`,
            StorageClass: storageClass as StorageClass,
            // Not copied from the source: a copy gets the site's ACL, or the bucket's default.
            ACL: acl as ObjectCannedACL | undefined,
            MetadataDirective: "COPY",
          }),
          ifMatch,
        ),
        { abortSignal: signal },
      ));
    return { etag: unquote(out.CopyObjectResult?.ETag) };
  }

  async uploadPartCopy(
    source: string,
    key: string,
    uploadId: string,
    partNumber: number,
    { start, end }: { readonly start: number; readonly end: number },
    ifMatch: string,
    signal?: AbortSignal,
  ): Promise<CompletedPart> {
    const out = await this.#call(`copy part ${partNumber} of`, key, signal, () =>
      this.#client.send(
        pinned(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            CopySource: copySource(this.bucket, source),
            CopySourceIfMatch: `"${ifMatch}"`,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
          ifMatch,
        ),
        { abortSignal: signal },
      ));
    return { partNumber, etag: unquote(out.CopyPartResult?.ETag) };
  }

  async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<Map<string, string>> {
    const what = keys.length === 1
      ? keys[0] ?? ""
      : `${keys[0]}" and ${keys.length - 1} more "keys`;
    return await this.#call("delete", what, signal, () => this.#http.deleteMany(keys, signal));
  }

  close(): void {
    // The SDK's handler destroys the agents it was given: those S3Http uses too.
    this.#client.destroy();
  }

  async deleteOne(key: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#call("delete", key, signal, () => this.#http.deleteOne(key, signal));
    } catch (err) {
      // Already gone is what we wanted.
      if (err instanceof S3Error && err.status === 404) return;
      throw err;
    }
  }

  async listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<UploadedPart[]> {
    const parts: UploadedPart[] = [];
    let marker: string | undefined;
    do {
      const page = await this.#call("list the uploaded parts of", key, signal, async () => {
        const out = await this.#client.send(
          new ListPartsCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumberMarker: marker,
          }),
          { abortSignal: signal },
        );
        const listed = (out.Parts ?? []).map((part) => ({
          partNumber: part.PartNumber ?? 0,
          size: part.Size ?? 0,
          etag: unquote(part.ETag),
        }));
        return { listed, next: out.IsTruncated ? out.NextPartNumberMarker : undefined };
      });
      parts.push(...page.listed);
      marker = page.next;
    } while (marker);
    return parts;
  }
}

/**
 * The server a site talks to: its endpoint, or AWS's regional one. What the proxy decision, the
 * log and the per-endpoint upload concurrency key on.
 */
export const endpointOf = (site: Pick<S3Settings, "endpoint" | "bucketRegion">): string =>
  site.endpoint ?? `https://s3.${site.bucketRegion}.amazonaws.com`;

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
  return new S3Store(site, createS3Client(site, transport), {
    idleMs: site.requestTimeoutMs,
    agentFor: transport.agentFor,
    ...uploads,
  });
}
