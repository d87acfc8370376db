/**
 * Sending a multipart upload's parts from an open file: a few parts of the file at once, each read
 * once into a buffer taken from the upload memory budget, each sent with its Content-MD5. Parts a
 * resumed upload already holds are read and checked instead of sent. The upload is completed only
 * when the parts give the ETag its label predicted and the file kept its stamp throughout.
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { errorMessage } from "../lib/errors.ts";
import type { FileStamp } from "../state/store.ts";
import type { UploadLabel } from "../state/uploads.ts";
import type { CompletedPart, ObjectStore } from "../store/types.ts";
import { multipartEtag, partCount } from "./etag.ts";
import { assertUnchanged, FileChangedError, readExactly, UPLOAD_MEMORY } from "./file_reads.ts";
import {
  abandonUpload,
  abortQuietly,
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

/** One upload's parts to send: those `held` by the server already are checked, not sent. */
export interface PartPlan {
  readonly key: string;
  readonly path: string;
  readonly size: number;
  readonly partSize: number;
  readonly uploadId: string;
  /** The parts sent must give this ETag, or the upload's metadata would lie. */
  readonly label: UploadLabel;
  /** The file when the upload opened it: its mtime is the object's, so it must not move. */
  readonly stamp: FileStamp;
  readonly held: ReadonlyMap<number, string>;
  readonly resumed: boolean;
}

/**
 * Reads every part once. The parts the server holds come first, each skipped only when its MD5 is
 * the ETag held (otherwise the resume is refused before anything is sent); then the others are
 * sent. The upload is completed once the ETag computed from all the parts' digests is the label's;
 * the ETag returned is the server's, or that one when the server gives none. A stop (the
 * signal) leaves a recorded upload in place for the next start to resume; any other failure, or
 * no record, aborts it.
 */
export async function sendParts(
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
    // With SSE-KMS or SSE-C on AWS a part's ETag is no MD5, so no held part proves itself and
    // the resume is refused: such uploads start afresh, which is safe. RGW's are MD5s.
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
    // The file changed since it was hashed, or while it was read: the metadata would lie, so
    // the upload is dropped. Our ETag, not the server's: that is the one the label predicted.
    const computed = multipartEtag(digests);
    if (computed !== plan.label.etag) throw new FileChangedError(path);
    await assertUnchanged(file, plan.stamp, path);
    const done = await store.completeMultipart(key, uploadId, parts, signal);
    resume?.uploads.forget(key, uploadId);
    // The server's when it gives one: with SSE-KMS or SSE-C on AWS it is not the parts' MD5s',
    // and it is what listings will show. RGW answers with none; ours is then exact.
    return { etag: done?.etag || computed };
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
