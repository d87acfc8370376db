/**
 * The one place that decides what is worth retrying, and the retry loop every S3 call goes through.
 * The SDK's own retries are off (maxAttempts 1) so that each attempt gets a fresh body stream and
 * the policy lives here.
 * @module
 */

import { backoffDelay, sleep } from "../lib/backoff.ts";

const RETRYABLE_CODES = new Set([
  "SlowDown",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "BandwidthLimitExceeded",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "TimeoutError",
  "NetworkingError",
  // Signed with a clock the server refuses: the SDK has set its offset from the answer's Date
  // (and S3Http shares it), so the next attempt is signed with the server's time.
  "RequestTimeTooSkewed",
]);
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);

interface SdkLikeError {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

export function httpStatus(err: unknown): number | undefined {
  return (err as SdkLikeError | undefined)?.$metadata?.httpStatusCode;
}

export function errorCode(err: unknown): string | undefined {
  const e = err as SdkLikeError | undefined;
  return e?.code ?? e?.name;
}

export function isRetryable(err: unknown): boolean {
  const e = err as SdkLikeError | undefined;
  if (!e || typeof e !== "object") return false;
  if (e.name === "AbortError") return false;
  const status = httpStatus(e);
  if (status !== undefined && RETRYABLE_STATUS.has(status)) return true;
  if (e.code && RETRYABLE_CODES.has(e.code)) return true;
  if (e.name && RETRYABLE_CODES.has(e.name)) return true;
  // A connection that died before any HTTP status arrived: the request may be retried safely
  // because every operation here is idempotent (same key, same body).
  return status === undefined && e.name === "TypeError" && /fetch|network|socket/i.test(String(e));
}

export interface RetryOptions {
  readonly retries: number;
  readonly signal?: AbortSignal;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

/** Runs `attempt` once, then up to `retries` more times while the error is retryable. */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  { retries, signal, baseDelayMs = 200, maxDelayMs = 20_000 }: RetryOptions,
): Promise<T> {
  for (let n = 0;; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (n >= retries || !isRetryable(err)) throw err;
      await sleep(backoffDelay(n, baseDelayMs, maxDelayMs), signal);
    }
  }
}
