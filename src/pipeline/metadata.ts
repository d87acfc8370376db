/**
 * The user metadata every upload of ours carries (`x-amz-meta-*`): our `s3sync-md5`, and the two
 * keys rclone's S3 backend reads, so that rclone shows our objects with their files' dates and can
 * check their content. rclone writes and reads them as `X-Amz-Meta-Mtime` (seconds since the epoch,
 * as a decimal string with up to nine decimals and no trailing zeros, "1354040105.123456789"; no
 * point for a whole second) and `X-Amz-Meta-Md5chksum` (the binary MD5 in standard base64), which
 * it prefers to an ETag that is not an MD5 (multipart, SSE).
 * @module
 */

import { Buffer } from "node:buffer";

/** Metadata key holding the MD5 of the content, for objects whose ETag is not MD5-based. */
export const MD5_METADATA = "s3sync-md5";
/** rclone's modification time. */
export const MTIME_METADATA = "mtime";
/** rclone's MD5 of the content, base64 of the 16 bytes. */
export const RCLONE_MD5_METADATA = "md5chksum";

/**
 * `mtimeMs` (what stat gives: milliseconds, possibly with a fraction) in rclone's decimal seconds.
 * Integer arithmetic on the whole milliseconds: a float of nanoseconds since 1970 cannot hold them
 * exactly (1.7e18 is past 2^53), and would print digits the file never had.
 */
export function formatMtime(mtimeMs: number): string {
  if (mtimeMs < 0) return `-${formatMtime(-mtimeMs)}`;
  const wholeMs = Math.floor(mtimeMs);
  const subMsNs = Math.round((mtimeMs - wholeMs) * 1e6);
  const ns = BigInt(wholeMs) * 1_000_000n + BigInt(subMsNs);
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return fraction ? `${seconds}.${fraction}` : `${seconds}`;
}

/**
 * What an upload of bytes with MD5 `md5Hex` sends as metadata; `mtimeMs` is the file's mtime when
 * those bytes were read, or undefined to send none (`store_mtime: false`).
 */
export function contentMetadata(
  md5Hex: string,
  mtimeMs: number | undefined,
): Record<string, string> {
  const metadata: Record<string, string> = {
    [MD5_METADATA]: md5Hex,
    [RCLONE_MD5_METADATA]: Buffer.from(md5Hex, "hex").toString("base64"),
  };
  if (mtimeMs !== undefined) metadata[MTIME_METADATA] = formatMtime(mtimeMs);
  return metadata;
}
