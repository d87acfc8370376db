/**
 * One HTTP request with a body we hold in memory, sent with `node:http`/`node:https` rather than
 * `fetch`. Three things need it: a body sent in slices as a rate limit allows must still go out
 * with its Content-Length (`fetch` sends a stream chunked, and S3 servers answer 411); a stall is
 * seen as a socket with no bytes moving either way, not guessed from the body's size; and the
 * agent, shared with the AWS SDK's requests, carries the proxy and the trusted CAs.
 * @module
 */

import http from "node:http";
import https from "node:https";
import { Buffer } from "node:buffer";

export interface Exchange {
  readonly status: number;
  readonly statusText: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
}

export interface ExchangeOptions {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  readonly agent?: http.Agent;
  /** The request fails once no byte has moved either way for this long. */
  readonly idleMs: number;
  /** Waits until `bytes` more may be sent; when given, the body goes out in slices. */
  readonly pace?: (bytes: number, signal?: AbortSignal) => Promise<void>;
  readonly signal?: AbortSignal;
}

/** A request that got no answer: refused, reset, stalled. Callers retry these. */
export class NoAnswerError extends Error {
  constructor(message: string, options?: ErrorOptions, readonly stalled = false) {
    super(message, options);
    this.name = "NoAnswerError";
  }
}

/**
 * Small enough that a paced body keeps a rate smooth within a second even at 1 MiB/s, large
 * enough that slices cost nothing next to the bytes.
 */
export const SLICE_BYTES = 64 * 1024;

/** Sends one request and reads the whole answer; S3 answers are small (XML or empty). */
export function exchange(url: URL, options: ExchangeOptions): Promise<Exchange> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<Exchange>((resolve, reject) => {
    const send = url.protocol === "https:" ? https.request : http.request;
    const request = send(url, {
      method: options.method,
      headers: options.headers,
      agent: options.agent,
    });
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      request.destroy();
      reject(
        signal?.aborted
          ? signal.reason
          : err instanceof NoAnswerError
          ? err
          : new NoAnswerError((err as Error)?.message ?? String(err), { cause: err }),
      );
    };
    const onAbort = () => fail(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    request.setTimeout(options.idleMs, () => {
      fail(new NoAnswerError(`no data moved for ${options.idleMs / 1000} s`, undefined, true));
    });
    request.on("error", fail);
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", fail);
      response.on("end", () => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        resolve({
          status: response.statusCode ?? 0,
          statusText: response.statusMessage ?? "",
          headers: response.headers,
          text: Buffer.concat(chunks).toString("utf8"),
        });
      });
    });
    writeBody(request, options, signal).catch(fail);
  });
}

async function writeBody(
  request: http.ClientRequest,
  { body, pace, idleMs }: ExchangeOptions,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (!pace) {
    request.end(body);
    return;
  }
  for (let start = 0; start < body.byteLength; start += SLICE_BYTES) {
    const slice = body.subarray(start, Math.min(body.byteLength, start + SLICE_BYTES));
    // Silence while we hold our own bytes back for the rate limit is not the server stalling:
    // the idle timer is off during the wait (many uploads under a low limit wait long).
    request.setTimeout(0);
    await pace(slice.byteLength, signal);
    request.setTimeout(idleMs);
    if (request.destroyed) return;
    if (!request.write(slice)) await drained(request);
  }
  request.end();
}

function drained(request: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      request.off("drain", done);
      request.off("close", done);
      resolve();
    };
    request.on("drain", done);
    request.on("close", done);
  });
}
