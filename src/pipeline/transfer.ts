/**
 * Moving bytes: a file to an object (one PUT up to PART_SIZE, parts above it; copies inside the
 * bucket are in copy.ts). Data is read one part (PART_SIZE) at a time, never a whole large file;
 * each byte is read once. A multipart upload with a record (`resume`) survives a stop, and goes on
 * from the parts the server holds (resume.ts); without one, or when it cannot be used, it is
 * aborted.
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { type FileHandle, open } from "node:fs/promises";
import mime from "mime";
import { withTimeout } from "../lib/deadline.ts";
import { errorMessage } from "../lib/errors.ts";
import type { UploadLabel } from "../state/uploads.ts";
import type { CompletedPart, ObjectStore, PutOptions } from "../store/types.ts";
import { ByteBudget } from "../lib/byte_budget.ts";
import { isMultipart, MiB, multipartEtag, partCount, partSizeFor } from "./etag.ts";
import {
  abandonUpload,
  abortQuietly,
  findResumable,
  type ResumeOptions,
  ResumeRefused,
  uploadGone,
} from "./resume.ts";

/**
 * Parts of one file in flight at once: a large file uses the link without a worker per part. With
 * 8 MiB parts that is 32 MiB in flight, above the bandwidth-delay product of a 1 Gbit/s link at
 * 250 ms; on the `far` bench profile (100 Mbit/s, 120 ms) one file fills 97% of the link.
 */
export const PART_CONCURRENCY = 4;

/**
 * What upload bodies and part buffers may hold at once, all uploads of the process together:
 * with `upload_workers: auto` up to 256 uploads are in flight, and 256 files of 8 MiB must not
 * take 2 GiB. Past it, an upload waits for memory before it reads its file.
 */
export const UPLOAD_MEMORY = new ByteBudget(256 * MiB);

/** Metadata key holding the MD5 of the content, for objects whose ETag is not MD5-based. */
export const MD5_METADATA = "s3sync-md5";

/** The file no longer has the size it had when the upload started. */
export class FileChangedError extends Error {
  constructor(path: string) {
    super(`File "${path}" changed while it was being uploaded`);
    this.name = "FileChangedError";
  }
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
  /** The site's canned ACL; absent sends none. */
  readonly acl?: string;
  /** Known when the checksum stage hashed the file; lets a multipart upload carry the MD5. */
  readonly hashed?: Hashed;
  /** Where multipart uploads are remembered: one cut short by a stop resumes (resume.ts). */
  readonly resume?: ResumeOptions;
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
    acl: request.acl,
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
  const giveBack = await UPLOAD_MEMORY.take(size, signal);
  try {
    const body = new Uint8Array(size);
    const file = await open(path, "r");
    try {
      await readExactly(file, body, 0, path);
    } finally {
      await file.close();
    }
    // Hashed right here: a hashing thread measured no faster for 1 MiB files (1.20-1.28 s
    // against 1.11-1.23 s for 200 of them) and cost 0.15 s more CPU.
    const digest = createHash("md5").update(body).digest();
    const md5Hex = Buffer.from(digest).toString("hex");
    const md5Base64 = Buffer.from(digest).toString("base64");
    const labelled = { ...options, metadata: { [MD5_METADATA]: md5Hex } };
    const { etag } = await store.put(key, body, md5Base64, labelled, signal);
    return { etag: etag || md5Hex };
  } finally {
    giveBack();
  }
}

async function uploadParts(
  store: ObjectStore,
  { key, path, size, hashed, resume }: UploadRequest,
  options: PutOptions,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const partSize = partSizeFor(size);
  const label = hashed?.etag ? { md5: hashed.md5, etag: hashed.etag } : undefined;
  const wanted = { key, size, partSize, options, label };
  const file = await open(path, "r");
  try {
    const resumption = resume && await findResumable(store, wanted, resume, signal);
    if (resumption) {
      try {
        const plan = { ...wanted, ...resumption, path, resumed: true };
        return await sendParts(store, file, plan, resume, signal);
      } catch (err) {
        // Already aborted, and logged with its reason: a new upload follows.
        if (!(err instanceof ResumeRefused)) throw err;
      }
    }
    const labelled = label ? { ...options, metadata: { [MD5_METADATA]: label.md5 } } : options;
    // Not cancelled midway: the server could create the upload without us learning its id, and
    // its parts could then never be cleaned up. It is short; the parts' signal stops us after.
    const uploadId = await withTimeout(60_000, (t) => store.createMultipart(key, labelled, t));
    const { storageClass, contentType, acl } = options;
    const record = { key, uploadId, partSize, storageClass, contentType, acl, label };
    resume?.uploads.start({ ...record, file: resume.file });
    const plan = { ...wanted, path, uploadId, held: new Map<number, string>(), resumed: false };
    return await sendParts(store, file, plan, resume, signal);
  } finally {
    await file.close();
  }
}

/** One upload's parts to send: those `held` by the server already are checked, not sent. */
interface PartPlan {
  readonly key: string;
  readonly path: string;
  readonly size: number;
  readonly partSize: number;
  readonly uploadId: string;
  /** When set, the parts sent must give this ETag, or the upload's s3sync-md5 would lie. */
  readonly label: UploadLabel | undefined;
  readonly held: ReadonlyMap<number, string>;
  readonly resumed: boolean;
}

/**
 * Reads every part once. The parts the server holds come first, each skipped only when its MD5 is
 * the ETag held (otherwise the resume is refused before anything is sent); then the others are
 * sent. The upload is completed with the ETag computed from all the parts' digests. A stop (the
 * signal) leaves a recorded upload in place for the next start to resume; any other failure, or
 * no record, aborts it.
 */
async function sendParts(
  store: ObjectStore,
  file: FileHandle,
  plan: PartPlan,
  resume: ResumeOptions | undefined,
  signal?: AbortSignal,
): Promise<{ etag: string }> {
  const { key, path, size, partSize, uploadId, held, resumed } = plan;
  const count = partCount(size, partSize);
  const parts: CompletedPart[] = new Array(count);
  const digests: Uint8Array[] = new Array(count);
  // The first failure stops the other lanes; all are awaited before the upload is aborted.
  const failed = new AbortController();
  const partSignal = signal ? AbortSignal.any([signal, failed.signal]) : failed.signal;
  const inLanes = async (
    numbers: readonly number[],
    act: (number: number, part: Uint8Array, digest: Uint8Array) => Promise<CompletedPart>,
  ) => {
    let next = 0;
    const lane = async () => {
      // One buffer per lane: memory is PART_CONCURRENCY parts per file, whatever its size, and
      // all files' buffers together stay within UPLOAD_MEMORY.
      const giveBack = await UPLOAD_MEMORY.take(partSize, partSignal);
      try {
        await laneParts(new Uint8Array(partSize));
      } finally {
        giveBack();
      }
    };
    const laneParts = async (buffer: Uint8Array) => {
      for (let i = next++; i < numbers.length; i = next++) {
        partSignal.throwIfAborted();
        const number = numbers[i]!;
        const start = (number - 1) * partSize;
        const part = buffer.subarray(0, Math.min(partSize, size - start));
        await readExactly(file, part, start, path);
        const digest = createHash("md5").update(part).digest();
        digests[number - 1] = digest;
        const done = await act(number, part, digest);
        parts[number - 1] = done;
        resume?.uploads.partDone(key, uploadId, number, done.etag);
      }
    };
    const lanes = await Promise.allSettled(
      Array.from(
        { length: Math.min(PART_CONCURRENCY, numbers.length) },
        () =>
          lane().catch((err) => {
            failed.abort(err);
            throw err;
          }),
      ),
    );
    const failure = lanes.find((lane) => lane.status === "rejected");
    if (failure) throw failed.signal.reason ?? (failure as PromiseRejectedResult).reason;
  };
  const numbers = Array.from({ length: count }, (_, n) => n + 1);
  try {
    // Recorded again when proven: a kill may have lost a part's record before it was written.
    await inLanes(numbers.filter((n) => held.has(n)), (number, _, digest) => {
      const etag = held.get(number)!;
      if (etag.toLowerCase() !== Buffer.from(digest).toString("hex")) {
        throw new ResumeRefused(key, `part ${number} on the server is not the file's`);
      }
      return Promise.resolve({ partNumber: number, etag });
    });
    await inLanes(numbers.filter((n) => !held.has(n)), async (number, part, digest) => {
      const b64 = Buffer.from(digest).toString("base64");
      try {
        return await store.uploadPart(key, uploadId, number, part, b64, partSignal);
      } catch (err) {
        if (resumed && uploadGone(err)) throw new ResumeRefused(key, "the upload is gone");
        throw err;
      }
    });
    // Some servers (RGW) answer CompleteMultipartUpload with an empty ETag; ours is exact.
    const etag = multipartEtag(digests);
    // The file changed since it was hashed: its MD5 label would lie, so the upload is dropped.
    if (plan.label && etag !== plan.label.etag) throw new FileChangedError(path);
    await store.completeMultipart(key, uploadId, parts, signal);
    resume?.uploads.forget(key, uploadId);
    return { etag };
  } catch (err) {
    const unusable = err instanceof FileChangedError || err instanceof ResumeRefused;
    // Stopping or reloading: the parts sent stay on the server, and their record in the state
    // store, for the next start to resume. Without a record nothing could, so it is aborted.
    if (resume && signal?.aborted && !unusable) throw err;
    if (resume) await abandonUpload(store, resume, key, uploadId, errorMessage(err));
    else await abortQuietly(store, key, uploadId);
    throw err;
  }
}

async function readExactly(
  file: FileHandle,
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
