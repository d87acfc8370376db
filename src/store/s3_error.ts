/**
 * How a failed S3 call is reported: one error naming the operation, site, bucket and key, with the
 * server's code and status kept for the callers that decide on them (404, 412, a refused key).
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { errorCode, httpStatus } from "./retry.ts";

/** An S3 call that failed for good: names the operation, site, bucket and key, and keeps the cause. */
export class S3Error extends Error {
  readonly code: string | undefined;
  readonly status: number | undefined;
  constructor(operation: string, site: string, bucket: string, key: string, cause: unknown) {
    const code = errorCode(cause);
    const status = httpStatus(cause);
    const detail = [code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(", ");
    const reason = errorMessage(cause);
    const what = key ? `"${key}" in bucket "${bucket}"` : `bucket "${bucket}"`;
    const hint = code ? HINTS.get(code) : undefined;
    super(
      `Cannot ${operation} ${what} (site "${site}"): ` +
        (detail && !reason.includes(detail) ? `${reason} (${detail})` : reason) +
        (hint ? `: ${hint}` : ""),
      { cause },
    );
    this.name = "S3Error";
    this.code = code;
    this.status = status;
  }
}

/** What to do about an S3 error code whose own message does not say. */
const HINTS: ReadonlyMap<string, string> = new Map([
  // AWS's default for new buckets (Object Ownership "bucket owner enforced"): every ACL but
  // bucket-owner-full-control is refused with 400, so retrying cannot help (retry.ts does not).
  [
    "AccessControlListNotSupported",
    "the bucket has ACLs disabled (Object Ownership: bucket owner enforced): remove acl from " +
    "the config, or use acl: bucket-owner-full-control",
  ],
]);
