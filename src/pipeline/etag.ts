/**
 * ETag maths. S3 gives a single-part object the MD5 of its bytes as ETag, and a multipart object
 * `md5(md5(part1) + md5(part2) + ...)-N`. So a multipart ETag can only be recomputed when the part
 * size is known: ours is `partSizeFor()`, shared with the uploader; other uploaders' common sizes are
 * tried as well when they give the same part count.
 * @module
 */

import { createHash } from "node:crypto";

export const MiB = 1024 * 1024;
/** Our part size, and the size above which we upload in parts (as `aws s3` does by default). */
export const PART_SIZE = 8 * MiB;
/** S3 allows at most this many parts, so very large files need larger parts. */
export const MAX_PARTS = 10_000;
/** A single CopyObject handles at most 5 GiB; larger objects are copied part by part. */
export const MAX_COPY_SIZE = 5 * 1024 * MiB;

/** Part sizes other common uploaders use (aws cli, rclone, s3cmd, mc, SDK defaults). */
const COMMON_PART_SIZES = [5, 8, 10, 15, 16, 25, 32, 50, 64, 100, 128, 256, 512].map((n) =>
  n * MiB
);

/** Our part size for a file of `size` bytes: PART_SIZE, grown in whole MiB to fit MAX_PARTS. */
export function partSizeFor(size: number): number {
  const minimum = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  return Math.max(PART_SIZE, minimum);
}

export function isMultipart(size: number): boolean {
  return size > PART_SIZE;
}

export function partCount(size: number, partSize: number): number {
  return Math.max(1, Math.ceil(size / partSize));
}

export type ParsedEtag =
  | { readonly kind: "md5"; readonly md5: string }
  | { readonly kind: "multipart"; readonly parts: number }
  | { readonly kind: "unknown" };

export function parseEtag(etag: string): ParsedEtag {
  const value = etag.toLowerCase();
  if (/^[0-9a-f]{32}$/.test(value)) return { kind: "md5", md5: value };
  const match = /^[0-9a-f]{32}-(\d+)$/.exec(value);
  if (match) return { kind: "multipart", parts: Number(match[1]) };
  // SSE-KMS and SSE-C objects, and some servers, give ETags that are not MD5-based at all.
  return { kind: "unknown" };
}

/** The part sizes that would split `size` bytes into exactly `parts` parts, ours first. */
export function candidatePartSizes(size: number, parts: number): number[] {
  const sizes = new Set([
    partSizeFor(size),
    ...COMMON_PART_SIZES,
    // Uploaders that derive the part size from a target part count, rounded up to a whole MiB.
    Math.ceil(size / parts / MiB) * MiB,
  ]);
  return [...sizes].filter((partSize) => partSize > 0 && partCount(size, partSize) === parts);
}

/** The multipart ETag from the parts' raw MD5 digests. */
export function multipartEtag(partDigests: readonly Uint8Array[]): string {
  const hash = createHash("md5");
  for (const digest of partDigests) hash.update(digest);
  return `${hash.digest("hex")}-${partDigests.length}`;
}
