/**
 * The requests that carry file data, PutObject and UploadPart, and the deletes (DeleteObjects in
 * batches, DeleteObject for keys XML cannot carry), sent with `fetch` and our own SigV4 signature
 * instead of through the AWS SDK. They are most of what a sync does, and the SDK's middleware stack
 * cost about 40% of the throughput for small files on our 2-core machines (490 against 750-870
 * objects/s measured side by side). Everything else stays with the SDK.
 *
 * Keys must survive the wire formats byte for byte: XML in DeleteObjects (`deleteObjectsXml`, and
 * `xmlCanCarry` for the keys it cannot hold) and URL encoding in listings (`decodeListedKey`).
 * @module
 */

import { createHash } from "node:crypto";
import type http from "node:http";
import type { Outcome, Sample } from "../lib/concurrency.ts";
import { type Exchange, exchange, NoAnswerError } from "./exchange.ts";
import { isHandshakeFailure } from "./trust.ts";
import { type SigningCredentials, signRequest, uriEncode } from "./sigv4.ts";

export interface HttpTarget {
  readonly endpoint: string | undefined;
  readonly bucket: string;
  readonly bucketRegion: string;
}

/** Shaped like the SDK's errors, so that retry.ts judges both the same way. */
export class S3HttpError extends Error {
  readonly $metadata: { httpStatusCode?: number };
  constructor(name: string, message: string, status?: number) {
    super(message);
    this.name = name;
    this.$metadata = { httpStatusCode: status };
  }
}

export interface DataRequest {
  readonly body: Uint8Array;
  readonly md5Base64: string;
  /** Extra headers, lower-case: storage class, content type, metadata. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
}

/** What S3Http needs besides the target: how to reach it, and how long silence may last. */
export interface HttpOptions {
  /** The agent for a URL (proxy, trusted CAs, kept-alive sockets); Node's global one if none. */
  readonly agentFor?: (url: URL) => http.Agent | undefined;
  /** A request fails, and is retried, after this long with no byte moving either way. */
  readonly idleMs: number;
  /** Waits until `bytes` more may be uploaded: the bandwidth limit. */
  readonly pace?: (bytes: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Where the server's clock is kept, as milliseconds to add to ours: the SDK client's config,
   * so that an offset either path learns signs the requests of both.
   */
  readonly clock: { systemClockOffset?: number };
  /** Told how each upload went, so that the uploads in flight can follow the link. */
  readonly observe?: (sample: Sample) => void;
}

/** The AWS SDK's rule: a clock is skewed when it is five minutes or more away from the server's. */
const SKEW_MS = 5 * 60_000;

export class S3Http {
  readonly #base: URL;
  readonly #virtualHost: boolean;

  constructor(
    readonly target: HttpTarget,
    private readonly credentials: () => Promise<SigningCredentials>,
    private readonly options: HttpOptions,
  ) {
    // AWS itself: virtual-hosted addressing (path-style is closed to new buckets), except for
    // bucket names with dots, which TLS wildcards cannot cover. Custom endpoints: path-style.
    this.#virtualHost = target.endpoint === undefined && !target.bucket.includes(".");
    const host = `s3.${target.bucketRegion}.amazonaws.com`;
    this.#base = new URL(
      target.endpoint ??
        (this.#virtualHost ? `https://${target.bucket}.${host}` : `https://${host}`),
    );
  }

  /** The URL of `key`, its path encoded once, as SigV4 signs it. */
  url(key: string, query: Readonly<Record<string, string>> = {}): URL {
    const base = this.#base.pathname.replace(/\/$/, "");
    const bucket = this.#virtualHost ? "" : `/${uriEncode(this.target.bucket)}`;
    const url = new URL(this.#base);
    url.pathname = `${base}${bucket}/${key.split("/").map(uriEncode).join("/")}`;
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return url;
  }

  /** PUTs `body` to `key`; returns the ETag without quotes. Throws S3HttpError on an S3 error. */
  async put(key: string, request: DataRequest, signal?: AbortSignal): Promise<string> {
    const response = await this.#send("PUT", this.url(key, request.query), request, signal);
    return headerText(response.headers.etag).replaceAll('"', "");
  }

  /**
   * Deletes up to 1,000 keys in one DeleteObjects request; returns the keys S3 could not delete,
   * with the reason. Sent here rather than by the SDK because S3 wants its Content-MD5, which the
   * SDK replaces with a CRC32 that S3-compatible servers refuse. Every key must pass `xmlCanCarry`.
   */
  async deleteMany(keys: readonly string[], signal?: AbortSignal): Promise<Map<string, string>> {
    const body = new TextEncoder().encode(deleteObjectsXml(keys));
    const md5Base64 = createHash("md5").update(body).digest("base64");
    const url = this.url("", { delete: "" });
    url.pathname = url.pathname.replace(/\/$/, "");
    const headers = { "content-type": "application/xml" };
    const response = await this.#send("POST", url, { body, md5Base64, headers }, signal);
    return deleteErrors(response.text, keys);
  }

  /**
   * Deletes one key with DeleteObject, whose key travels in the URL, not in XML. Here rather than
   * in the SDK so that the key is encoded by the same `url()` as the PUT that wrote it.
   */
  async deleteOne(key: string, signal?: AbortSignal): Promise<void> {
    const body = new Uint8Array(0);
    await this.#send("DELETE", this.url(key), { body, md5Base64: EMPTY_MD5 }, signal);
  }

  async #send(
    method: string,
    url: URL,
    request: DataRequest,
    signal?: AbortSignal,
  ): Promise<Exchange> {
    const { clock, idleMs, agentFor } = this.options;
    // Only uploads count against the bandwidth limit and teach the concurrency; a delete's small
    // XML body is not data.
    const upload = method === "PUT";
    const pace = upload ? this.options.pace : undefined;
    const observe = upload ? this.options.observe : undefined;
    for (let attempt = 0;; attempt++) {
      const headers: Record<string, string> = {
        ...request.headers,
        "content-length": String(request.body.byteLength),
        "content-md5": request.md5Base64,
      };
      const offset = clock.systemClockOffset ?? 0;
      const now = new Date(Date.now() + offset);
      signRequest(method, url, headers, await this.credentials(), this.target.bucketRegion, now);
      let response: Exchange;
      const started = performance.now();
      const report = (outcome: Outcome) =>
        observe?.({ ms: performance.now() - started, bytes: request.body.byteLength, outcome });
      try {
        const body = request.body;
        response = await exchange(url, {
          method,
          headers,
          body,
          agent: agentFor?.(url),
          idleMs,
          pace,
          signal,
        });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        report(err instanceof NoAnswerError && err.stalled ? "stalled" : "failed");
        // No answer (refused, reset, stalled): retry.ts treats NetworkingError as transient. A
        // certificate refused is not, and says so at once.
        const name = isHandshakeFailure(err) ? "TlsHandshakeFailed" : "NetworkingError";
        throw new S3HttpError(name, (err as Error).message);
      }
      learnClock(clock, headerText(response.headers.date));
      const ok = response.status >= 200 && response.status < 300;
      const { text } = response;
      const code = ok ? "" : /<Code>([^<]*)<\/Code>/.exec(text)?.[1] || `HTTP${response.status}`;
      report(ok ? "ok" : throttled(response.status, code) ? "throttled" : "failed");
      if (ok) return response;
      // Signed with a clock the server refuses: once more, at once, with the server's time (which
      // this answer or the SDK's requests may have taught us meanwhile).
      const corrected = (clock.systemClockOffset ?? 0) !== offset;
      if (code === "RequestTimeTooSkewed" && corrected && attempt === 0) continue;
      const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] || response.statusText || code;
      throw new S3HttpError(code, message, response.status);
    }
  }
}

/** The server asks us to slow down: 503 (S3's SlowDown), 429, or a code that says so. */
const throttled = (status: number, code: string): boolean =>
  status === 503 || status === 429 || /SlowDown|Throttl|TooManyRequests/.test(code);

/**
 * Sets the offset to the server's clock when ours is skewed against `date` (a Date header), as
 * the SDK does. Whole seconds are all a Date header has, and enough.
 */
export function learnClock(clock: { systemClockOffset?: number }, date: string): void {
  const server = Date.parse(date);
  if (Number.isNaN(server)) return;
  const offset = clock.systemClockOffset ?? 0;
  if (Math.abs(Date.now() + offset - server) >= SKEW_MS) {
    clock.systemClockOffset = server - Date.now();
  }
}

const headerText = (value: string | string[] | undefined): string =>
  Array.isArray(value) ? value.join(",") : value ?? "";

const EMPTY_MD5 = createHash("md5").digest("base64");

/**
 * True when XML 1.0 can carry `key` at all. It has no way to write U+0000-U+0008, U+000B, U+000C,
 * U+000E-U+001F, U+FFFE, U+FFFF or a lone surrogate, not even as a character reference: RGW
 * answers 400 for the whole DeleteObjects request, and every other key in it stays.
 */
export function xmlCanCarry(key: string): boolean {
  return !/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u.test(key);
}

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * Element content that a parser turns back into exactly `text`. A literal CR comes out as LF (XML
 * line-end handling: RGW then deletes "Icon\n" when asked for "Icon\r"), so CR goes as `&#13;`.
 * TAB and LF survive RGW literally, but parsers that trim or normalise whitespace would not keep
 * them, nor the other control and line-separator characters: a reference costs a few bytes and
 * keeps them all.
 */
function escapeXml(text: string): string {
  return text.replace(
    /[&<>"'\t\n\r\x7f-\x9f\u2028\u2029]/g,
    (c) => XML_ESCAPES[c] ?? `&#${c.charCodeAt(0)};`,
  );
}

function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (entity, name: string) => {
    if (name.startsWith("#x")) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith("#")) return String.fromCodePoint(Number(name.slice(1)));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[name] ?? entity;
  });
}

/** The body of a quiet DeleteObjects request; a key `xmlCanCarry` refuses is a programmer error. */
export function deleteObjectsXml(keys: readonly string[]): string {
  const objects = keys.map((key) => {
    if (!xmlCanCarry(key)) throw new RangeError(`XML cannot carry the key ${JSON.stringify(key)}`);
    return `<Object><Key>${escapeXml(key)}</Key></Object>`;
  });
  const head = `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>`;
  return `${head}${objects.join("")}</Delete>`;
}

/**
 * The failures a quiet DeleteObjects response reports, by the key we sent. The response is read
 * as text, without an XML parser's line-end handling, so a key comes back exactly as the server
 * wrote it (RGW writes CR as `&#x0d;`). An error for a key we did not send means the server read
 * one of ours differently, and we cannot tell which: then nothing in the batch is known deleted.
 */
export function deleteErrors(text: string, sent: readonly string[]): Map<string, string> {
  const keys = new Set(sent);
  const failed = new Map<string, string>();
  for (const match of text.matchAll(/<Error>([\s\S]*?)<\/Error>/g)) {
    const part = match[1] ?? "";
    const key = unescapeXml(/<Key>([^<]*)<\/Key>/.exec(part)?.[1] ?? "");
    const code = /<Code>([^<]*)<\/Code>/.exec(part)?.[1] ?? "Error";
    const message = unescapeXml(/<Message>([^<]*)<\/Message>/.exec(part)?.[1] ?? "");
    if (!keys.has(key)) {
      throw new S3HttpError(
        "UnexpectedKey",
        `DeleteObjects reported ${code} for ${JSON.stringify(key)}, a key it was not sent`,
      );
    }
    failed.set(key, message ? `${message} (${code})` : code);
  }
  return failed;
}

/**
 * A key from a listing asked for with EncodingType=url; the SDK decodes nothing itself. AWS encodes
 * as HTML forms do (a space is "+"), RGW as URLs do (a space is "%20", "/" is "%2F"); both send a
 * "+" in a key as "%2B", so reading "+" as a space, as boto's unquote_plus does, suits both.
 */
export function decodeListedKey(key: string): string {
  try {
    return decodeURIComponent(key.replaceAll("+", " "));
  } catch (err) {
    throw new URIError(`The listed key "${key}" is not URL-encoded UTF-8`, { cause: err });
  }
}
