/**
 * Moving bytes: a file to an object (one PUT up to PART_SIZE, parts above it; copies inside the
 * bucket are in copy.ts). Data is read one part (PART_SIZE) at a time, never a whole large file. A
 * single PUT reads its file once; a multipart upload reads it twice when the checksum stage did not
 * hash it (its metadata, given before the parts are read, needs the MD5). A multipart upload with a
 * record (`resume`) survives a stop, and goes on from the parts the server holds (resume.ts);
 * without one, or when it cannot be used, it is aborted.
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import mime from "mime";
import { withTimeout } from "../lib/deadline.ts";
import type { FileStamp } from "../state/store.ts";
import type { UploadLabel } from "../state/uploads.ts";
import type { ObjectStore, PutOptions } from "../store/types.ts";
import type { Comparer } from "./compare.ts";
import { isMultipart, partSizeFor } from "./etag.ts";
import {
  assertUnchanged,
  FileChangedError,
  readExactly,
  UPLOAD_MEMORY,
  withOpenFile,
} from "./file_reads.ts";
import { BLOCK_SIZE, hashFile } from "./hash.ts";
import { contentMetadata, formatMtime } from "./metadata.ts";
import { sendParts } from "./parts.ts";
import { findResumable, type ResumeOptions, ResumeRefused } from "./resume.ts";

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
  /** The site's canned ACL; absent sends none. */
  readonly acl?: string;
  /** Known when the checksum stage hashed the file; spares a multipart upload a read of it. */
  readonly hashed?: Hashed;
  /** Where multipart uploads are remembered: one cut short by a stop resumes (resume.ts). */
  readonly resume?: ResumeOptions;
  /** Sends the file's mtime as rclone's `mtime` metadata (`store_mtime`). */
  readonly storeMtime?: boolean;
  /** Hashes a file that must be hashed before its upload (the site's hashing threads). */
  readonly hasher?: Pick<Comparer, "hash">;
}

/**
 * Returns the object's ETag: the server's, or our own computation when the server sends none.
 * Every object carries the MD5 of exactly the bytes sent, as `s3sync-md5` (which proves content
 * where an ETag cannot: SSE-KMS) and as rclone's `md5chksum`, and, with `storeMtime`, the mtime the
 * file had while they were read. A single PUT hashes its body. A multipart upload, whose metadata
 * must be given before its parts are read, takes the checksum stage's hash or hashes the file
 * first, and is completed only if the parts it sent give the ETag that same hash predicted. Either
 * fails with FileChangedError, sending nothing or aborting the upload, when the file's stamp moved
 * while it was read: the metadata can never describe other bytes than the object's.
 */
export async function uploadFile(
  store: ObjectStore,
  request: UploadRequest,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const options: PutOptions = {
    storageClass: request.storageClass,
    acl: request.acl,
    contentType: contentTypeOf(request.path),
  };
  const { path, size } = request;
  if (isMultipart(size)) {
    return await withOpenFile(
      path,
      size,
      (file, stamp) => uploadParts(store, file, stamp, request, options, signal),
    );
  }
  // Memory first: the uploads that wait for it hold no file open.
  const giveBack = await UPLOAD_MEMORY.take(size, signal);
  try {
    return await withOpenFile(
      path,
      size,
      (file, stamp) => uploadWhole(store, file, stamp, request, options, signal),
    );
  } finally {
    giveBack();
  }
}

/**
 * Up to PART_SIZE: read once, whole, like one part (its memory taken by the caller), and sent with
 * its MD5 for the server to check.
 */
async function uploadWhole(
  store: ObjectStore,
  file: FileHandle,
  stamp: FileStamp,
  { key, path, size, storeMtime }: UploadRequest,
  options: PutOptions,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const body = new Uint8Array(size);
  await readExactly(file, body, 0, path);
  await assertUnchanged(file, stamp, path);
  // Hashed right here: a hashing thread measured no faster for 1 MiB files (1.20-1.28 s
  // against 1.11-1.23 s for 200 of them) and cost 0.15 s more CPU.
  const digest = createHash("md5").update(body).digest();
  const md5Hex = Buffer.from(digest).toString("hex");
  const md5Base64 = Buffer.from(digest).toString("base64");
  const metadata = contentMetadata(md5Hex, storeMtime ? stamp.mtimeMs : undefined);
  const { etag } = await store.put(key, body, md5Base64, { ...options, metadata }, signal);
  return { etag: etag || md5Hex };
}

async function uploadParts(
  store: ObjectStore,
  file: FileHandle,
  stamp: FileStamp,
  request: UploadRequest,
  options: PutOptions,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const { key, path, size, hashed, resume } = request;
  const partSize = partSizeFor(size);
  const known = hashed?.etag ? { md5: hashed.md5, etag: hashed.etag } : undefined;
  const mtime = request.storeMtime ? formatMtime(stamp.mtimeMs) : undefined;
  const encryption = store.uploadEncryption;
  const wanted = { key, size, partSize, options, label: known, mtime, encryption };
  const common = { key, path, size, partSize, stamp };
  // Resumed before any hash: the upload's own label holds its parts to the bytes it was made for.
  const resumption = resume && await findResumable(store, wanted, resume, signal);
  if (resumption) {
    try {
      const plan = { ...common, ...resumption, resumed: true };
      return await sendParts(store, file, plan, resume, signal);
    } catch (err) {
      // Already aborted, and logged with its reason: a new upload follows.
      if (!(err instanceof ResumeRefused)) throw err;
    }
  }
  const label = known ?? await hashFirst(request, partSize, signal);
  // The hash read the file by its path: its stamp must not have moved while it did.
  await assertUnchanged(file, stamp, path);
  const metadata = contentMetadata(label.md5, request.storeMtime ? stamp.mtimeMs : undefined);
  // Not cancelled midway: the server could create the upload without us learning its id, and
  // its parts could then never be cleaned up. It is short; the parts' signal stops us after.
  const uploadId = await withTimeout(
    60_000,
    (t) => store.createMultipart(key, { ...options, metadata }, t),
  );
  const { storageClass, contentType, acl } = options;
  const record = {
    key,
    uploadId,
    partSize,
    storageClass,
    contentType,
    acl,
    label,
    mtime,
    encryption,
  };
  resume?.uploads.start({ ...record, file: resume.file });
  const plan = { ...common, uploadId, label, held: new Map<number, string>(), resumed: false };
  return await sendParts(store, file, plan, resume, signal);
}

/**
 * The MD5 and our multipart ETag of a file the checksum stage did not hash, on the site's hashing
 * threads (the event loop keeps driving other uploads), within the upload memory budget.
 */
async function hashFirst(
  { path, size, hasher }: UploadRequest,
  partSize: number,
  signal?: AbortSignal,
): Promise<UploadLabel> {
  const giveBack = await UPLOAD_MEMORY.take(BLOCK_SIZE, signal);
  try {
    const hash = hasher ? hasher.hash.bind(hasher) : hashFile;
    const digest = await hash(path, [partSize], signal, size);
    const etag = digest.etags.get(partSize);
    if (digest.size !== size || etag === undefined) throw new FileChangedError(path);
    return { md5: digest.md5, etag };
  } finally {
    giveBack();
  }
}
