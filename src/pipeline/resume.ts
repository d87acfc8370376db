/**
 * Resuming our multipart uploads after a stop, a reload or a kill. An upload recorded in the state
 * store (state/uploads.ts) goes on only for the file it was started for: the same stamp, part size,
 * storage class, content type, `s3sync-md5` label, `mtime` metadata and encryption (SSE mode, KMS
 * key id, SSE-C key MD5), the upload still on the server (ListParts), every recorded part listed
 * there with the ETag we recorded, every listed part of the size its place in the file gives. Even
 * then a part is skipped only once the file's bytes for it are read again and their MD5 is the ETag
 * the server lists (parts.ts does that as it goes; with SSE-KMS or SSE-C on AWS no part ETag is an
 * MD5, so such uploads never resume there). Whatever disagrees abandons the upload (forgotten, then
 * aborted) and a new one starts.
 * @module
 */

import { withTimeout } from "../lib/deadline.ts";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { sameStamp } from "../state/store.ts";
import type { FileStamp } from "../state/store.ts";
import type { UploadBook, UploadLabel, UploadRecord } from "../state/uploads.ts";
import type { ObjectStore, PutOptions, UploadedPart } from "../store/types.ts";
import { partCount } from "./etag.ts";

/** What an upload needs to be remembered, and resumed after a stop. */
export interface ResumeOptions {
  readonly uploads: UploadBook;
  /** The file's stamp when its job looked at it, before the upload. */
  readonly file: FileStamp;
  /** The site's name, for log lines. */
  readonly site: string;
}

/** A resumed upload cannot go on (the file's bytes or the server disagree): start a new one. */
export class ResumeRefused extends Error {
  constructor(key: string, reason: string) {
    super(`Cannot resume the multipart upload of "${key}": ${reason}`);
    this.name = "ResumeRefused";
  }
}

/** The upload a file would be given now. */
export interface WantedUpload {
  readonly key: string;
  readonly size: number;
  readonly partSize: number;
  readonly options: PutOptions;
  /** Known when the checksum stage hashed the file; otherwise the upload's own label stands. */
  readonly label: UploadLabel | undefined;
  /** The `mtime` metadata the object should get; undefined for none. */
  readonly mtime: string | undefined;
  /** The encryption the object should get (`ObjectStore.uploadEncryption`); undefined for none. */
  readonly encryption: string | undefined;
}

export interface Resumption {
  readonly uploadId: string;
  /** The label the upload was created with: its parts must still give its ETag. */
  readonly label: UploadLabel;
  /** The ETag the server holds for each part it has, by part number. */
  readonly held: ReadonlyMap<number, string>;
}

const statusOf = (err: unknown) => (err as { status?: unknown } | undefined)?.status;

/** True when S3 said the upload is no longer there (NoSuchUpload). */
export function uploadGone(err: unknown): boolean {
  return statusOf(err) === 404;
}

/**
 * The recorded upload of `wanted.key`, when it can go on for the file as it is; otherwise it is
 * abandoned, and undefined says to start a new one. A failure to ask the server (other than the
 * upload being gone) is thrown, and the upload stays for the job's next attempt.
 */
export async function findResumable(
  store: ObjectStore,
  wanted: WantedUpload,
  resume: ResumeOptions,
  signal?: AbortSignal,
): Promise<Resumption | undefined> {
  const found = resume.uploads.get(wanted.key);
  if (!found) return undefined;
  const { record, parts } = found;
  const { key, site } = { key: wanted.key, site: resume.site };
  const unlike = recordMismatch(record, wanted, resume.file);
  if (unlike) {
    await abandonUpload(store, resume, key, record.uploadId, unlike);
    return undefined;
  }
  let listed: UploadedPart[];
  try {
    listed = await store.listParts(key, record.uploadId, signal);
  } catch (err) {
    if (!uploadGone(err)) throw err;
    resume.uploads.forget(key, record.uploadId);
    log.info("a recorded multipart upload is gone, starting a new one", { site, key });
    return undefined;
  }
  const disagreement = partsMismatch(listed, parts, wanted);
  if (disagreement) {
    await abandonUpload(store, resume, key, record.uploadId, disagreement);
    return undefined;
  }
  const held = new Map(listed.map((part) => [part.partNumber, part.etag]));
  log.info("resuming a multipart upload", {
    site,
    key,
    parts_held: held.size,
    parts: partCount(wanted.size, wanted.partSize),
  });
  // recordMismatch() refused a record without a label.
  return { uploadId: record.uploadId, label: record.label!, held };
}

function recordMismatch(
  record: UploadRecord,
  wanted: WantedUpload,
  file: FileStamp,
): string | undefined {
  if (!sameStamp(record.file, file)) return "the file changed";
  if (record.partSize !== wanted.partSize) return "the part size changed";
  // Fixed when the upload was created: the object would not get what the site asks for now.
  if (record.storageClass !== wanted.options.storageClass) return "the storage class changed";
  if (record.contentType !== wanted.options.contentType) return "the content type changed";
  if (record.acl !== wanted.options.acl) return "the ACL changed";
  // A label is the MD5 of the whole file from one hash; an upload started without one (by an
  // earlier version) cannot be given it now. One started with a label is held to that label's
  // ETag at completion.
  if (!record.label) return "it has no s3sync-md5 metadata";
  if (wanted.label && wanted.label.md5 !== record.label.md5) {
    return "its s3sync-md5 metadata is not the file's MD5";
  }
  // The same stamp gives the same mtime; store_mtime may have been switched since.
  if (record.mtime !== wanted.mtime) return "its mtime metadata is not the one wanted";
  // Fixed at creation too: a new SSE-C key could not even complete it, and the object must get
  // the KMS key or mode the site asks for now.
  if (record.encryption !== wanted.encryption) return "the encryption changed";
  return undefined;
}

function partsMismatch(
  listed: readonly UploadedPart[],
  recorded: ReadonlyMap<number, string>,
  { size, partSize }: WantedUpload,
): string | undefined {
  const count = partCount(size, partSize);
  const byNumber = new Map(listed.map((part) => [part.partNumber, part]));
  for (const [number, etag] of recorded) {
    const part = byNumber.get(number);
    if (!part) return `part ${number} is missing on the server`;
    if (part.etag.toLowerCase() !== etag.toLowerCase()) {
      return `part ${number} has another ETag on the server`;
    }
  }
  for (const { partNumber: number, size: held } of listed) {
    if (number < 1 || number > count) return `the server holds part ${number} of ${count}`;
    const expected = Math.min(partSize, size - (number - 1) * partSize);
    if (held !== expected) return `part ${number} is ${held} bytes on the server, not ${expected}`;
  }
  return undefined;
}

/**
 * Drops an upload for good: forgotten first, so that an abort that fails leaves an upload no
 * record names, which the next start aborts.
 */
export async function abandonUpload(
  store: ObjectStore,
  resume: Pick<ResumeOptions, "uploads" | "site">,
  key: string,
  uploadId: string,
  reason: string,
): Promise<void> {
  resume.uploads.forget(key, uploadId);
  await abortQuietly(store, key, uploadId);
  log.info("aborted a multipart upload", { site: resume.site, key, reason });
}

/**
 * Leaves no orphaned parts behind (they are billed and invisible in listings). Runs on its own
 * deadline because the caller's signal may be the reason we are here.
 */
export async function abortQuietly(
  store: ObjectStore,
  key: string,
  uploadId: string,
): Promise<void> {
  try {
    await withTimeout(30_000, (t) => store.abortMultipart(key, uploadId, t));
  } catch (err) {
    // Nothing more to do here; a later start's clean-up of unknown uploads removes it.
    log.debug("cannot abort a multipart upload", { key, error: errorMessage(err) });
  }
}
