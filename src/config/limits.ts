/**
 * Bounds and defaults for numeric settings, in one place so the messages, the resolver and the docs
 * agree. The upper bounds only catch typos (an extra zero or two): real configs sit far below them.
 * @module
 */

export const MAX_WORKERS = 1024;
export const MAX_RETRIES = 100;
export const MAX_UPLOAD_QUEUE_BUFFER = 1_000_000;
export const MAX_WATCH_INTERVAL_MS = 24 * 3_600_000;
export const MAX_RECONCILE_INTERVAL_MS = 30 * 24 * 3_600_000;

export const DEFAULT_REGION = "us-east-1";
export const DEFAULT_UPLOAD_WORKERS = 10;
export const DEFAULT_S3_OPS_RETRIES = 5;
export const DEFAULT_WATCH_INTERVAL_MS = 1000;
export const DEFAULT_RECONCILE_INTERVAL_MS = 3_600_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** How long a request may go with no byte moving either way before it is retried. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
export const MAX_REQUEST_TIMEOUT_MS = 3_600_000;
export const MAX_SHUTDOWN_TIMEOUT_MS = 3_600_000;
/** Hashing is CPU-bound; in Kubernetes the visible CPU count is the node's, not the pod's limit. */
export const K8S_CHECKSUM_WORKERS = 2;
export const DEFAULT_INCLUSIONS: readonly string[] = [".*"];
