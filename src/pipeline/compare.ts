/**
 * Whether a file holds the bytes an object holds, proven from the file's bytes: the one content
 * comparison that the checksum stage, a copy's verification and `--verify` all use. A plain ETag is
 * the MD5; a multipart ETag is recomputed with the part sizes that give its part count; anything
 * else is judged by the `s3sync-md5` metadata our uploads carry, which costs a HEAD. Without such a
 * proof the answer is "unknown", never "same".
 * @module
 */

import type { ObjectStore, RemoteObject } from "../store/types.ts";
import { candidatePartSizes, isMultipart, parseEtag, partSizeFor } from "./etag.ts";
import type { FileDigest } from "./hash.ts";
import { MD5_METADATA } from "./transfer.ts";

export type Verdict = "same" | "different" | "unknown";

export interface ContentCheck {
  readonly verdict: Verdict;
  /** The MD5 of the bytes that were read. */
  readonly md5: string;
  /** The number of bytes that were read (differs from the object's when the file changed). */
  readonly size: number;
  /** Multipart ETags of those bytes, by part size: ours always, for a file of that size. */
  readonly etags: ReadonlyMap<number, string>;
}

export interface Comparer {
  readonly store: Pick<ObjectStore, "head">;
  /** `size`: what the file is expected to hold (the object's size). */
  hash(
    path: string,
    partSizes: readonly number[],
    signal?: AbortSignal,
    size?: number,
  ): Promise<FileDigest>;
}

export async function compareContent(
  comparer: Comparer,
  path: string,
  remote: RemoteObject,
  signal?: AbortSignal,
): Promise<ContentCheck> {
  const etag = remote.etag.toLowerCase();
  const parsed = parseEtag(etag);
  const partSizes = new Set(
    parsed.kind === "multipart" ? candidatePartSizes(remote.size, parsed.parts) : [],
  );
  // Our own layout too, in the same read: an upload of these bytes can then be checked to have
  // sent exactly them (see uploadFile).
  if (isMultipart(remote.size)) partSizes.add(partSizeFor(remote.size));
  const digest = await comparer.hash(path, [...partSizes], signal, remote.size);
  const result = (verdict: Verdict) => ({
    verdict,
    md5: digest.md5,
    size: digest.size,
    etags: digest.etags,
  });
  if (digest.size !== remote.size) return result("different");
  if (parsed.kind === "md5") return result(digest.md5 === parsed.md5 ? "same" : "different");
  if ([...digest.etags.values()].includes(etag)) return result("same");
  // An ETag we cannot recompute (SSE-KMS, SSE-C, a part size we do not know): our own uploads
  // carry the MD5 of exactly the bytes they sent.
  const info = await comparer.store.head(remote.key, signal);
  if (!info) return result("different");
  // The HEAD may see a newer object than the listing did: its word counts only for that ETag.
  if (info.etag.toLowerCase() !== etag) return result("unknown");
  const md5 = info.metadata[MD5_METADATA];
  if (md5 === undefined) return result("unknown");
  return result(md5 === digest.md5 ? "same" : "different");
}
