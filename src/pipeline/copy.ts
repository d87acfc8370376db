/**
 * Copies inside the bucket: an object to a new key (a rename) or onto itself with a new storage
 * class. The data never leaves the server. Each copy is pinned to the source's ETag as it was
 * verified, so a source that changed meanwhile fails the copy instead of being copied.
 * @module
 */

import { Buffer } from "node:buffer";
import { withTimeout } from "../lib/deadline.ts";
import { CustomerKeyRefused } from "../store/sse.ts";
import type { CompletedPart, ObjectStore } from "../store/types.ts";
import { MAX_COPY_SIZE, multipartEtag, partCount, partSizeFor } from "./etag.ts";
import { abortQuietly } from "./resume.ts";

/** The source of a copy is gone or no longer holds the bytes that were verified. */
export class SourceChangedError extends Error {
  constructor(source: string, key: string) {
    super(`Cannot copy "${source}" to "${key}": the source changed or is gone`);
    this.name = "SourceChangedError";
  }
}

/**
 * True when a copy failed because its source changed (HTTP 412), went away (404), or is under an
 * SSE-C key other than ours, or when the server cannot make such a copy (501: RGW copies no SSE-KMS
 * or SSE-C object): the file is then uploaded instead, rather than the copy retried for ever.
 */
export function sourceChanged(err: unknown): boolean {
  if (err instanceof SourceChangedError || err instanceof CustomerKeyRefused) return true;
  const status = (err as { status?: unknown } | undefined)?.status;
  return status === 412 || status === 404 || status === 501;
}

export interface CopyRequest {
  readonly source: string;
  readonly key: string;
  readonly size: number;
  readonly storageClass: string;
  /** The site's canned ACL; absent sends none. */
  readonly acl?: string;
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
  { source, key, size, storageClass, acl, ifMatch }: CopyRequest,
  signal?: AbortSignal,
  maxCopySize = MAX_COPY_SIZE,
): Promise<{ etag: string }> {
  if (size <= maxCopySize) {
    return await store.copy(source, key, { storageClass, acl }, ifMatch, signal);
  }
  // A multipart copy does not carry the metadata over by itself. The HEAD also pins the copy for
  // servers that ignore the condition on UploadPartCopy (RGW 16); the caller verifies the result.
  const info = await store.head(source, signal);
  if (info?.etag !== ifMatch) throw new SourceChangedError(source, key);
  const partSize = Math.min(partSizeFor(size), maxCopySize);
  const options = {
    storageClass,
    acl,
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
    const done = await store.completeMultipart(key, uploadId, parts, signal);
    // The server's own when it gives one: with SSE-KMS or SSE-C the parts' ETags are no MD5s.
    const digests = parts.map((p) => Buffer.from(p.etag, "hex"));
    return { etag: done?.etag || multipartEtag(digests) };
  } catch (err) {
    await abortQuietly(store, key, uploadId);
    throw err;
  }
}
