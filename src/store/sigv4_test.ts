import assert from "node:assert/strict";
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { signRequest, uriEncode } from "./sigv4.ts";

const bytes = (data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof data === "string"
    ? data
    : ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : new Uint8Array(data);

/** The hash constructor the SDK's signer asks for, on node:crypto. */
class Sha256 {
  #hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#hash = secret ? createHmac("sha256", bytes(secret)) : createHash("sha256");
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.#hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

Deno.test("uriEncode() escapes what SigV4 wants escaped", () => {
  assert.equal(uriEncode("a b+c%d#e!'()*~"), "a%20b%2Bc%25d%23e%21%27%28%29%2A~");
  assert.equal(uriEncode("ü"), "%C3%BC");
});

// The example of AWS's SigV4 documentation for S3 ("PUT Object"), with UNSIGNED-PAYLOAD in place of
// the payload's hash, checked against the AWS SDK's own signer for the same request.
Deno.test("signRequest() signs as the AWS SDK does", async () => {
  // The SDK's signer is already a dependency of @aws-sdk/client-s3; no new package comes in.
  const { SignatureV4 } = await import("@smithy/signature-v4");
  const credentials = {
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  };
  const now = new Date("2013-05-24T00:00:00Z");
  const url = new URL("http://127.0.0.1:7480/bucket/a%20b/%C3%BC.txt?partNumber=2&uploadId=x%2By");
  const headers: Record<string, string> = {
    "content-length": "5",
    "content-md5": "XUFAKrxLKna5cZ2REBfFkg==",
    "x-amz-storage-class": "STANDARD_IA",
  };
  signRequest("PUT", url, headers, credentials, "us-east-1", now);
  const sdk = new SignatureV4({
    credentials,
    region: "us-east-1",
    service: "s3",
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const expected = await sdk.sign({
    method: "PUT",
    protocol: "http:",
    hostname: "127.0.0.1",
    port: 7480,
    path: "/bucket/a%20b/%C3%BC.txt",
    query: { partNumber: "2", uploadId: "x+y" },
    headers: {
      host: "127.0.0.1:7480",
      "content-length": "5",
      "content-md5": "XUFAKrxLKna5cZ2REBfFkg==",
      "x-amz-storage-class": "STANDARD_IA",
      "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
    },
  }, {
    signingDate: now,
    unsignableHeaders: new Set(),
    signableHeaders: new Set(["content-length", "content-md5"]),
  });
  assert.equal(headers.authorization, expected.headers.authorization);
});
