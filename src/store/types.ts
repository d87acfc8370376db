/**
 * The object-store operations the engine needs. `s3.ts` (and the `s3_*.ts` files it delegates to)
 * implements them with the AWS SDK; nothing else in src/ imports the SDK.
 * @module
 */

/** One object as a listing reports it. ETags are kept without their quotes. */
export interface RemoteObject {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly storageClass: string;
}

export interface ObjectInfo extends RemoteObject {
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * The encryption HEAD reports: `AES256`, `aws:kms`, `aws:kms:dsse`, or `SSE-C`; absent when it
   * reports none. SSE-KMS and SSE-C objects have ETags that are not MD5s.
   */
  readonly encryption?: string;
}

export interface PutOptions {
  readonly storageClass: string;
  /** A canned ACL (`x-amz-acl`); absent sends none, as buckets with ACLs disabled need. */
  readonly acl?: string;
  readonly contentType: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** What a copy sets on the object it writes; content type and metadata come from the source. */
export type CopyOptions = Pick<PutOptions, "storageClass" | "acl">;

export interface CompletedPart {
  readonly partNumber: number;
  readonly etag: string;
}

/** One part a multipart upload in progress holds, as ListParts reports it. */
export interface UploadedPart {
  readonly partNumber: number;
  readonly size: number;
  readonly etag: string;
}

/** A multipart upload that was started and neither completed nor aborted. */
export interface PendingUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date | undefined;
}

/** One ListObjectsV2 request's parameters besides the prefix; see `ObjectStore.listPage`. */
export interface ListPageOptions {
  /** Rolls keys up to their first `delimiter` after the prefix into `ListedPage.prefixes`. */
  readonly delimiter?: string;
  /** Lists keys after this one (not including it); ignored with a `continuationToken`. */
  readonly startAfter?: string;
  /** A previous page's `next`, with the same prefix and delimiter. */
  readonly continuationToken?: string;
  /** At most this many objects and prefixes together; the server's limit (1,000) by default. */
  readonly maxKeys?: number;
}

export interface ListedPage {
  /** In S3's key order: the byte order of the keys' UTF-8. */
  readonly objects: RemoteObject[];
  /** With a delimiter: the rolled-up prefixes, each ending with the delimiter. */
  readonly prefixes: string[];
  /** Set while the listing goes on: the `continuationToken` of the next page. */
  readonly next: string | undefined;
}

export interface ObjectStore {
  readonly bucket: string;
  /** Every object under `prefix`, page by page; "" lists the whole bucket. */
  list(prefix: string, signal?: AbortSignal): AsyncGenerator<RemoteObject[]>;
  /** One ListObjectsV2 request under `prefix`, retried as every call is; keys come decoded. */
  listPage(prefix: string, options: ListPageOptions, signal?: AbortSignal): Promise<ListedPage>;
  /** undefined when there is no such object. */
  head(key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined>;
  /** One PUT; the server checks the body against its MD5. */
  put(
    key: string,
    body: Uint8Array,
    md5Base64: string,
    options: PutOptions,
    signal?: AbortSignal,
  ): Promise<{ etag: string }>;
  /**
   * The encryption every object and multipart upload it creates gets, as a record may hold it
   * (`sse=aws:kms kms_key_id=k`, `sse=SSE-C key_md5=...`: never an SSE-C key); absent for none.
   * A recorded upload resumes only under the same (pipeline/resume.ts).
   */
  readonly uploadEncryption?: string;
  createMultipart(key: string, options: PutOptions, signal?: AbortSignal): Promise<string>;
  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
    md5Base64: string,
    signal?: AbortSignal,
  ): Promise<CompletedPart>;
  /**
   * The object's ETag as the server gives it: with SSE-KMS or SSE-C on AWS it is not the one the
   * parts' MD5s give. Empty (or nothing) when the server sends none, as RGW does.
   */
  completeMultipart(
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
    signal?: AbortSignal,
  ): Promise<{ readonly etag: string } | void>;
  abortMultipart(key: string, uploadId: string, signal?: AbortSignal): Promise<void>;
  /** Multipart uploads in progress under `prefix`. */
  listMultipartUploads(prefix: string, signal?: AbortSignal): Promise<PendingUpload[]>;
  /** Closes its connections; nothing is called after. A reload would otherwise leak them. */
  close?(): void;
  /**
   * The parts the multipart upload `uploadId` of `key` holds, in part number order. Fails with
   * HTTP 404 (NoSuchUpload) when the upload was completed or aborted.
   */
  listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<UploadedPart[]>;
  /**
   * Copies `source` to `key` (or onto itself, to change its storage class) inside the bucket;
   * the data never leaves the server, and content type and metadata come along; the storage class
   * and ACL are `options`'. The copy happens only while `source` still has the ETag `ifMatch`;
   * otherwise it fails with HTTP 412.
   */
  copy(
    source: string,
    key: string,
    options: CopyOptions,
    ifMatch: string,
    signal?: AbortSignal,
  ): Promise<{ etag: string }>;
  /** One part of a multipart copy of `source` to `key`: bytes `start` to `end`, inclusive. */
  uploadPartCopy(
    source: string,
    key: string,
    uploadId: string,
    partNumber: number,
    range: { readonly start: number; readonly end: number },
    ifMatch: string,
    signal?: AbortSignal,
  ): Promise<CompletedPart>;
  /**
   * Deletes up to 1,000 keys in one request; returns those that failed, with the reason. The
   * request is XML, so every key must pass `xmlCanCarry` (s3_http.ts); the others go to `deleteOne`.
   */
  deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<Map<string, string>>;
  /** Deletes one key, whatever its characters; a key that is not there counts as deleted. */
  deleteOne(key: string, signal?: AbortSignal): Promise<void>;
}
