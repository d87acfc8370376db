/**
 * The encryption headers each request carries, read off the wire by a small fake S3 server: both
 * request paths (the SDK's and our own node:http one). RGW runs SSE-KMS and SSE-C, but has no
 * SSE-S3 backend configured here (it ignores `AES256`) and no `aws:kms:dsse`, and it cannot show
 * which request carried which header; this test can.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CustomerKey } from "../config/encryption.ts";
import { setLogLevel } from "../lib/log.ts";
import type { Encryption } from "../config/types.ts";
import { createS3Store } from "./s3.ts";
import type { S3Settings } from "./s3_client.ts";
import { CustomerKeyRefused } from "./sse.ts";
import type { ObjectStore } from "./types.ts";

setLogLevel("error");

interface Seen {
  readonly method: string;
  readonly query: string;
  readonly headers: Headers;
}

const ETAG = '"0123456789abcdef0123456789abcdef"';

/** Answers as S3 would, just enough for the SDK to parse; HEAD refuses a key `refuse` names. */
function fakeS3(seen: Seen[], refuse: (headers: Headers) => boolean = () => false) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const url = new URL(request.url);
    await request.arrayBuffer();
    seen.push({ method: request.method, query: url.search, headers: request.headers });
    const xml = (body: string) =>
      new Response(`<?xml version="1.0" encoding="UTF-8"?>${body}`, {
        headers: { "content-type": "application/xml" },
      });
    if (request.method === "HEAD") {
      if (refuse(request.headers)) return new Response(null, { status: 400 });
      return new Response(null, {
        headers: {
          etag: ETAG,
          "content-length": "5",
          "x-amz-server-side-encryption": "aws:kms",
          "x-amz-meta-s3sync-md5": "abc",
        },
      });
    }
    if (url.searchParams.has("uploads")) {
      return xml(
        "<InitiateMultipartUploadResult><UploadId>u1</UploadId>" +
          "</InitiateMultipartUploadResult>",
      );
    }
    if (request.method === "POST") {
      return xml(
        `<CompleteMultipartUploadResult><ETag>"server-etag-2"</ETag>` +
          "</CompleteMultipartUploadResult>",
      );
    }
    if (request.headers.has("x-amz-copy-source")) {
      if (refuse(request.headers)) return new Response(null, { status: 403 });
      const result = url.searchParams.has("partNumber") ? "CopyPartResult" : "CopyObjectResult";
      return xml(`<${result}><ETag>${ETAG}</ETag></${result}>`);
    }
    return new Response(null, { headers: { etag: ETAG } });
  });
}

function storeFor(port: number, encryption: Encryption | undefined): ObjectStore {
  const site: S3Settings = {
    name: "s",
    endpoint: `http://127.0.0.1:${port}`,
    bucket: "b",
    bucketRegion: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    s3OpsRetries: 1,
    requestTimeoutMs: 10_000,
    encryption,
  };
  return createS3Store(site, 2);
}

/** One request of each kind the engine sends for an object; what the server saw, by name. */
async function exercise(
  encryption: Encryption | undefined,
): Promise<Map<string, Headers>> {
  const seen: Seen[] = [];
  const server = fakeS3(seen);
  const store = storeFor(server.addr.port, encryption);
  const body = new TextEncoder().encode("hello");
  const md5 = createHash("md5").update(body).digest("base64");
  const options = { storageClass: "STANDARD", contentType: "text/plain" };
  const byName = new Map<string, Headers>();
  const step = async (name: string, run: () => Promise<unknown>) => {
    const before = seen.length;
    await run();
    assert.equal(seen.length, before + 1, name);
    byName.set(name, seen[before]!.headers);
  };
  try {
    await step("PutObject", () => store.put("k", body, md5, options));
    await step("CreateMultipartUpload", () => store.createMultipart("k", options));
    await step("UploadPart", () => store.uploadPart("k", "u1", 1, body, md5));
    const parts = [{ partNumber: 1, etag: "x" }];
    await step("CompleteMultipartUpload", async () => {
      assert.deepEqual(await store.completeMultipart("k", "u1", parts), { etag: "server-etag-2" });
    });
    await step("HeadObject", () => store.head("k"));
    await step("CopyObject", () => store.copy("a", "k", options, "etag"));
    await step("UploadPartCopy", () => store.uploadPartCopy("a", "k", "u1", 1, range, "etag"));
  } finally {
    store.close?.();
    await server.shutdown();
  }
  return byName;
}

const range = { start: 0, end: 4 };
const SSE = "x-amz-server-side-encryption";
const KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id";
const CUSTOMER = "x-amz-server-side-encryption-customer-";
const SOURCE = "x-amz-copy-source-server-side-encryption-customer-";

/** The names of `headers` that are about encryption, with their values. */
const encryptionHeaders = (headers: Headers | undefined): Record<string, string> =>
  Object.fromEntries([...headers ?? []].filter(([name]) => name.includes("encryption")));

Deno.test("S3Store sends sse: aws:kms with its key id on the requests that create objects", async () => {
  const seen = await exercise({ kind: "sse", algorithm: "aws:kms", kmsKeyId: "key-1" });
  const kms = { [SSE]: "aws:kms", [KMS_KEY]: "key-1" };
  for (const name of ["PutObject", "CreateMultipartUpload", "CopyObject"]) {
    assert.deepEqual(encryptionHeaders(seen.get(name)), kms, name);
  }
  // S3 refuses these headers on requests that do not create an object.
  for (const name of ["UploadPart", "CompleteMultipartUpload", "HeadObject", "UploadPartCopy"]) {
    assert.deepEqual(encryptionHeaders(seen.get(name)), {}, name);
  }
});

Deno.test("S3Store sends sse: AES256 and aws:kms:dsse as written, and nothing without sse", async () => {
  for (const algorithm of ["AES256", "aws:kms:dsse"] as const) {
    const seen = await exercise({ kind: "sse", algorithm });
    for (const name of ["PutObject", "CreateMultipartUpload", "CopyObject"]) {
      assert.deepEqual(encryptionHeaders(seen.get(name)), { [SSE]: algorithm }, name);
    }
  }
  const none = await exercise(undefined);
  for (const [name, headers] of none) assert.deepEqual(encryptionHeaders(headers), {}, name);
});

Deno.test("S3Store sends the SSE-C key on every request about the object, and a copy's source key", async () => {
  const raw = new Uint8Array(32).map((_, i) => i * 7);
  const key = new CustomerKey(raw);
  const seen = await exercise({ kind: "customer", key });
  const customer = {
    [`${CUSTOMER}algorithm`]: "AES256",
    [`${CUSTOMER}key`]: btoa(String.fromCharCode(...raw)),
    [`${CUSTOMER}key-md5`]: createHash("md5").update(raw).digest("base64"),
  };
  const source = Object.fromEntries(
    Object.entries(customer).map(([name, value]) => [name.replace(CUSTOMER, SOURCE), value]),
  );
  for (const name of ["PutObject", "CreateMultipartUpload", "UploadPart", "HeadObject"]) {
    assert.deepEqual(encryptionHeaders(seen.get(name)), customer, name);
  }
  assert.deepEqual(encryptionHeaders(seen.get("CompleteMultipartUpload")), customer);
  for (const name of ["CopyObject", "UploadPartCopy"]) {
    assert.deepEqual(encryptionHeaders(seen.get(name)), { ...customer, ...source }, name);
  }
});

Deno.test("S3Store.head() with SSE-C falls back to a plain HEAD, and names a key that does not fit", async () => {
  const key = new CustomerKey(new Uint8Array(32).fill(1));
  const seen: Seen[] = [];
  // An object written without SSE-C: the server refuses a HEAD that carries a key.
  let refuseAll = false;
  const server = fakeS3(seen, (headers) => refuseAll || headers.has(`${CUSTOMER}key`));
  const store = storeFor(server.addr.port, { kind: "customer", key });
  try {
    const info = await store.head("plain");
    assert.equal(info?.etag, ETAG.replaceAll('"', ""));
    assert.equal(seen.length, 2, "one HEAD with the key, one without");
    // Under another key: both refused, and the error says so without the key.
    refuseAll = true;
    const err = await store.head("other").catch((err) => err);
    assert.ok(err instanceof CustomerKeyRefused, String(err));
    assert.match(err.message, /"other".*SSE-C key is not the configured one \(HTTP 400\)/);
    assert.ok(!err.message.includes(key.reveal()));
    const copy = await store.copy("other", "k", { storageClass: "STANDARD" }, "e").catch((e) => e);
    assert.ok(copy instanceof CustomerKeyRefused, String(copy));
  } finally {
    store.close?.();
    await server.shutdown();
  }
});

Deno.test("S3Store.uploadEncryption names the mode, KMS key id and SSE-C key MD5, never the key", () => {
  const key = new CustomerKey(new Uint8Array(32).fill(7));
  const md5 = createHash("md5").update(new Uint8Array(32).fill(7)).digest("base64");
  const cases: [Encryption | undefined, string | undefined][] = [
    [undefined, undefined],
    [{ kind: "sse", algorithm: "AES256" }, "sse=AES256"],
    [{ kind: "sse", algorithm: "aws:kms" }, "sse=aws:kms"],
    [{ kind: "sse", algorithm: "aws:kms", kmsKeyId: "k1" }, "sse=aws:kms kms_key_id=k1"],
    [{ kind: "customer", key }, `sse=SSE-C key_md5=${md5}`],
  ];
  for (const [encryption, expected] of cases) {
    // No request is made: the endpoint is never dialled.
    const store = storeFor(1, encryption);
    try {
      assert.equal(store.uploadEncryption, expected);
      assert.ok(!String(store.uploadEncryption).includes(key.reveal()));
    } finally {
      store.close?.();
    }
  }
});
