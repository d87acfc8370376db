/**
 * AWS Signature Version 4 for the requests we send ourselves (see `s3_http.ts`): a canonical
 * request of method, path, query and headers, with the payload left unsigned (its Content-MD5 is
 * checked by the server instead).
 * @module
 */

import { createHash, createHmac } from "node:crypto";

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** RFC 3986 encoding, as SigV4 wants it: encodeURIComponent leaves !'()* alone. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const hmac = (key: string | Uint8Array, data: string) =>
  createHmac("sha256", key).update(data).digest();

/** Signing keys change once a day per secret; deriving one costs four HMACs. */
const keyCache = new Map<string, Uint8Array>();

function signingKey(secret: string, day: string, region: string): Uint8Array {
  const id = `${secret}\n${day}\n${region}`;
  let key = keyCache.get(id);
  if (!key) {
    key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), "s3"), "aws4_request");
    if (keyCache.size > 16) keyCache.clear();
    keyCache.set(id, key);
  }
  return key;
}

/**
 * Adds `x-amz-date`, `x-amz-content-sha256`, the session token if any, and `authorization` to
 * `headers` (lower-case names), for a request to `url`. `path` is the encoded path as sent.
 */
export function signRequest(
  method: string,
  url: URL,
  headers: Record<string, string>,
  credentials: SigningCredentials,
  region: string,
  now = new Date(),
): void {
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, "");
  const day = amzDate.slice(0, 8);
  headers["x-amz-date"] = amzDate;
  headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
  if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
  const signed: Record<string, string> = { ...headers, host: url.host };
  const names = Object.keys(signed).sort();
  const query = [...url.searchParams]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonical = [
    method,
    url.pathname,
    query,
    names.map((name) => `${name}:${String(signed[name]).trim().replace(/\s+/g, " ")}\n`).join(""),
    names.join(";"),
    "UNSIGNED-PAYLOAD",
  ].join("\n");
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    scope,
    createHash("sha256").update(canonical).digest("hex"),
  ].join("\n");
  const signature = createHmac("sha256", signingKey(credentials.secretAccessKey, day, region))
    .update(toSign)
    .digest("hex");
  headers["authorization"] = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
    `SignedHeaders=${names.join(";")}, Signature=${signature}`;
}
