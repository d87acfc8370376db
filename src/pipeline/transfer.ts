/**
 * Moving bytes: a file to an object (one PUT up to PART_SIZE, parts above it), and an object onto
 * itself with a new storage class (one CopyObject up to 5 GiB, a multipart copy above it). Data is
 * read one part (PART_SIZE) at a time, never a whole large file; each byte is read once.
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import mime from "mime";
import { withTimeout } from "../lib/deadline.ts";
import type { CompletedPart, ObjectStore, PutOptions } from "../store/types.ts";
import { isMultipart, MAX_COPY_SIZE, multipartEtag, partCount, partSizeFor } from "./etag.ts";

/** Parts of one file in flight at once: a large file uses the link without a worker per part. */
export const PART_CONCURRENCY = 4;

/** Metadata key holding the MD5 of the content, for objects whose ETag is not MD5-based. */
export const MD5_METADATA = "s3sync-md5";

/** The file no longer has the size it had when the upload started. */
export class FileChangedError extends Error {
  constructor(path: string) {
    super(`File "${path}" changed while it was being uploaded`);
    this.name = "FileChangedError";
  }
}

/** The source of a copy is gone or no longer holds the bytes that were verified. */
export class SourceChangedError extends Error {
  constructor(source: string, key: string) {
    super(`Cannot copy "${source}" to "${key}": the source changed or is gone`);
    this.name = "SourceChangedError";
  }
}

/** True when a copy failed because its source changed (HTTP 412) or went away (404). */
export function sourceChanged(err: unknown): boolean {
  if (err instanceof SourceChangedError) return true;
  const status = (err as { status?: unknown } | undefined)?.status;
  return status === 412 || status === 404;
}

export function contentTypeOf(path: string): string {
  return mime.getType(path) ?? "application/octet-stream";
}

/** What the checksum stage learnt from reading a file: its MD5 and, above PART_SIZE, our ETag. */
export interface Hashed {
  readonly md5: string;
  readonly etag?: string;
}

export interface UploadRequest {
  readonly key: string;
  readonly path: string;
  readonly size: number;
  readonly storageClass: string;
  /** Known when the checksum stage hashed the file; lets a multipart upload carry the MD5. */
  readonly hashed?: Hashed;
}

/**
 * Returns the object's ETag: the server's, or our own computation when the server sends none. The
 * `s3sync-md5` metadata, which proves content where an ETag cannot (SSE-KMS), is always the MD5 of
 * exactly the bytes sent: a single PUT hashes its body; a multipart upload, whose metadata must be
 * given before its parts are read, carries the checksum stage's MD5 only when the parts it sent
 * give the ETag that same hash predicted, and is aborted otherwise.
 */
export async function uploadFile(
  store: ObjectStore,
  request: UploadRequest,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const options: PutOptions = {
    storageClass: request.storageClass,
    contentType: contentTypeOf(request.path),
  };
  return isMultipart(request.size)
    ? await uploadParts(store, request, options, signal)
    : await uploadWhole(store, request, options, signal);
}

/** Up to PART_SIZE: read once, whole, like one part, and sent with its MD5 for the server to check. */
async function uploadWhole(
  store: ObjectStore,
  { key, path, size }: UploadRequest,
  options: PutOptions,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const body = new Uint8Array(size);
  const file = await open(path, "r");
  try {
    await readExactly(file, body, 0, path);
  } finally {
    await file.close();
  }
  const digest = createHash("md5").update(body).digest();
  const md5Hex = Buffer.from(digest).toString("hex");
  const md5Base64 = Buffer.from(digest).toString("base64");
  const labelled = { ...options, metadata: { [MD5_METADATA]: md5Hex } };
  const { etag } = await store.put(key, body, md5Base64, labelled, signal);
  return { etag: etag || md5Hex };
}

async function uploadParts(
  store: ObjectStore,
  { key, path, size, hashed }: UploadRequest,
  options: PutOptions,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const partSize = partSizeFor(size);
  const predicted = hashed?.etag;
  const labelled = hashed && predicted
    ? { ...options, metadata: { [MD5_METADATA]: hashed.md5 } }
    : options;
  const file = await open(path, "r");
  let uploadId: string | undefined;
  try {
    // Not cancelled midway: the server could create the upload without us learning its id, and
    // its parts could then never be cleaned up. It is short; the check right after stops us.
    uploadId = await withTimeout(60_000, (t) => store.createMultipart(key, labelled, t));
    signal?.throwIfAborted();
    const count = partCount(size, partSize);
    const parts: CompletedPart[] = new Array(count);
    const digests: Uint8Array[] = new Array(count);
    // The first failure stops the other lanes; all are awaited before the upload is aborted.
    const failed = new AbortController();
    const partSignal = signal ? AbortSignal.any([signal, failed.signal]) : failed.signal;
    let next = 0;
    const lane = async (id: string) => {
      // One buffer per lane: memory is PART_CONCURRENCY parts per file, whatever its size.
      const buffer = new Uint8Array(partSize);
      for (let n = next++; n < count; n = next++) {
        partSignal.throwIfAborted();
        const start = n * partSize;
        const part = buffer.subarray(0, Math.min(partSize, size - start));
        await readExactly(file, part, start, path);
        const digest = createHash("md5").update(part).digest();
        digests[n] = digest;
        const b64 = Buffer.from(digest).toString("base64");
        parts[n] = await store.uploadPart(key, id, n + 1, part, b64, partSignal);
      }
    };
    const id = uploadId;
    const lanes = await Promise.allSettled(
      Array.from({ length: Math.min(PART_CONCURRENCY, count) }, () =>
        lane(id).catch((err) => {
          failed.abort(err);
          throw err;
        })),
    );
    const failure = lanes.find((lane) => lane.status === "rejected");
    if (failure) throw failed.signal.reason ?? (failure as PromiseRejectedResult).reason;
    // Some servers (RGW) answer CompleteMultipartUpload with an empty ETag; ours is exact.
    const etag = multipartEtag(digests);
    // The file changed since it was hashed: its MD5 label would lie, so the upload is dropped.
    if (predicted && etag !== predicted) throw new FileChangedError(path);
    await store.completeMultipart(key, uploadId, parts, signal);
    uploadId = undefined;
    return { etag };
  } finally {
    await file.close();
    if (uploadId) await abortQuietly(store, key, uploadId);
  }
}

async function readExactly(
  file: Awaited<ReturnType<typeof open>>,
  target: Uint8Array,
  position: number,
  path: string,
): Promise<void> {
  let filled = 0;
  while (filled < target.length) {
    const { bytesRead } = await file.read(
      target,
      filled,
      target.length - filled,
      position + filled,
    );
    if (bytesRead === 0) throw new FileChangedError(path);
    filled += bytesRead;
  }
}

/**
 * Leaves no orphaned parts behind (they are billed and invisible in listings). Runs on its own
 * deadline because the caller's signal may be the reason we are here.
 */
async function abortQuietly(store: ObjectStore, key: string, uploadId: string): Promise<void> {
  try {
    await withTimeout(30_000, (t) => store.abortMultipart(key, uploadId, t));
  } catch {
    // Nothing more to do here; a later start's cleanup of stale uploads removes it.
  }
}

export interface CopyRequest {
  readonly source: string;
  readonly key: string;
  readonly size: number;
  readonly storageClass: string;
  /** The source's ETag as it was verified: the copy fails (HTTP 412) if the source changed. */
  readonly ifMatch: string;
}

/**
 * Copies `source` to `key` inside the bucket with the given storage class (onto itself, that only
 * changes the class): the data never leaves the server. One CopyObject up to 5 GiB, a multipart
 * copy above it. `maxCopySize` is a parameter only so that tests can exercise the multipart path.
 */
export async function copyObject(
  store: ObjectStore,
  { source, key, size, storageClass, ifMatch }: CopyRequest,
  signal?: AbortSignal,
  maxCopySize = MAX_COPY_SIZE,
): Promise<{ etag: string }> {
  if (size <= maxCopySize) return await store.copy(source, key, storageClass, ifMatch, signal);
  // A multipart copy does not carry the metadata over by itself. The HEAD also pins the copy for
  // servers that ignore the condition on UploadPartCopy (RGW 16); the caller verifies the result.
  const info = await store.head(source, signal);
  if (info?.etag !== ifMatch) throw new SourceChangedError(source, key);
  const partSize = Math.min(partSizeFor(size), maxCopySize);
  const options = {
    storageClass,
    contentType: info.contentType ?? "application/octet-stream",
    metadata: info.metadata,
  };
  const uploadId = await withTimeout(60_000, (t) => store.createMultipart(key, options, t));
  try {
    signal?.throwIfAborted();
    const parts: CompletedPart[] = [];
    for (let n = 0; n < partCount(size, partSize); n++) {
      const start = n * partSize;
      const end = Math.min(size, start + partSize) - 1;
      const range = { start, end };
      parts.push(await store.uploadPartCopy(source, key, uploadId, n + 1, range, ifMatch, signal));
    }
    await store.completeMultipart(key, uploadId, parts, signal);
    const digests = parts.map((p) => Buffer.from(p.etag, "hex"));
    return { etag: multipartEtag(digests) };
  } catch (err) {
    await abortQuietly(store, key, uploadId);
    throw err;
  }
}
