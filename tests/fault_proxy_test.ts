/**
 * The fault proxy itself, against the real S3 server: it forwards signed requests untouched, and
 * each fault does what it says.
 */

import assert from "node:assert/strict";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { FaultProxy } from "./fault_proxy.ts";
import { bytes, newBucket, testS3, waitFor } from "./helpers.ts";

/** A client of the proxy with no retries of its own, so each fault is seen as it happens. */
function clientOf(proxy: FaultProxy): S3Client {
  const s3 = testS3();
  return new S3Client({
    endpoint: proxy.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    maxAttempts: 1,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

async function withProxy(test: (proxy: FaultProxy, client: S3Client) => Promise<void>) {
  const proxy = await FaultProxy.start(new URL(testS3().endpoint));
  const client = clientOf(proxy);
  try {
    await test(proxy, client);
  } finally {
    client.destroy();
    await proxy.close();
  }
}

Deno.test("FaultProxy forwards signed requests and bodies unchanged (the Host is the proxy's)", async () => {
  const bucket = await newBucket("proxy-fwd");
  await withProxy(async (proxy, client) => {
    const body = bytes(3 * 1024 * 1024 + 5, 7);
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "a b/c.bin",
        Body: body,
        ContentLength: body.length,
      }),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "a b/c.bin" }));
    assert.deepEqual(await got.Body!.transformToByteArray(), body);
    // Read back directly from the server too: what arrived is what was sent.
    const direct = await testS3().client.send(
      new GetObjectCommand({ Bucket: bucket, Key: "a b/c.bin" }),
    );
    assert.deepEqual(await direct.Body!.transformToByteArray(), body);
    assert.ok(proxy.stats.connections >= 1);
    assert.equal(proxy.stats.statuses + proxy.stats.resets + proxy.stats.refused, 0);
  });
});

Deno.test("FaultProxy refuse closes new connections until it is switched off", async () => {
  const bucket = await newBucket("proxy-refuse");
  await withProxy(async (proxy, client) => {
    proxy.set({ refuse: true });
    await assert.rejects(client.send(new ListObjectsV2Command({ Bucket: bucket })));
    assert.ok(proxy.stats.refused >= 1);
    proxy.set({});
    await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  });
});

Deno.test("FaultProxy statusShare answers exactly that share of requests with 503 SlowDown", async () => {
  const bucket = await newBucket("proxy-503");
  await withProxy(async (proxy, client) => {
    proxy.set({ statusShare: 0.25, status: 503 });
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        await client.send(new ListObjectsV2Command({ Bucket: bucket }));
        outcomes.push("ok");
      } catch (err) {
        const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
        outcomes.push(`${e.$metadata?.httpStatusCode} ${e.name}`);
      }
    }
    // Every fourth request, the same on every run.
    const expected = Array.from(
      { length: 20 },
      (_, i) => (i % 4 === 3 ? "503 SlowDown" : "ok"),
    );
    assert.deepEqual(outcomes, expected);
    assert.equal(proxy.stats.statuses, 5);
    // A PUT with a body is answered too, and the connection after it works.
    proxy.set({ statusShare: 1, status: 500 });
    const body = bytes(2 * 1024 * 1024, 2);
    const put = new PutObjectCommand({
      Bucket: bucket,
      Key: "k",
      Body: body,
      ContentLength: body.length,
    });
    await assert.rejects(client.send(put), /InternalError|internal error/i);
    proxy.set({});
    await client.send(put);
  });
});

Deno.test("FaultProxy resetAfterBytes cuts the chosen connections short", async () => {
  const bucket = await newBucket("proxy-reset");
  await withProxy(async (proxy, client) => {
    proxy.set({ resetAfterBytes: 100_000, resetShare: 1 });
    const body = bytes(1024 * 1024, 3);
    const put = new PutObjectCommand({
      Bucket: bucket,
      Key: "k",
      Body: body,
      ContentLength: body.length,
    });
    await assert.rejects(client.send(put));
    assert.equal(proxy.stats.resets, 1);
    proxy.set({});
    await client.send(put);
  });
});

Deno.test("FaultProxy blackhole holds requests until it is switched off, delayMs holds answers", async () => {
  const bucket = await newBucket("proxy-hole");
  await withProxy(async (proxy, client) => {
    proxy.set({ blackhole: true });
    let done = false;
    const listing = client.send(new ListObjectsV2Command({ Bucket: bucket })).finally(() => {
      done = true;
    });
    await waitFor("the request to reach the proxy", () => proxy.stats.blackholed >= 1);
    assert.equal(done, false);
    proxy.set({ delayMs: 300 });
    const started = Date.now();
    await listing;
    assert.ok(Date.now() - started >= 300);
  });
});

Deno.test("FaultProxy as a slow network: latency each way and a rate each way, bytes unchanged", async () => {
  const bucket = await newBucket("proxy-wan");
  await withProxy(async (proxy, client) => {
    const body = bytes(2 * 1024 * 1024, 3);
    await client.send(
      new PutObjectCommand({ Bucket: bucket, Key: "warm", Body: new Uint8Array(1) }),
    );
    proxy.set({ oneWayMs: 60, upBytesPerSecond: 4 * 1024 * 1024, downBytesPerSecond: 8 << 20 });
    // Lower bounds only: a request and its answer cross the link once each way, and 2 MiB take
    // half a second up at 4 MiB/s and a quarter down at 8 MiB/s.
    let started = performance.now();
    await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.ok(performance.now() - started >= 120, "a round trip takes both one-way delays");
    started = performance.now();
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: "big", Body: body }));
    assert.ok(performance.now() - started >= 500 + 120, "the upload is paced at the up rate");
    started = performance.now();
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "big" }));
    assert.deepEqual(await got.Body!.transformToByteArray(), body);
    assert.ok(performance.now() - started >= 250 + 120, "the download is paced at the down rate");
    proxy.set({});
    started = performance.now();
    await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.ok(performance.now() - started < 2_000, "switched off, requests go through at once");
  });
});
