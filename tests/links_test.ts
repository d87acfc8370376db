/**
 * What real links do to requests, against the real server where one is involved: a server that
 * goes silent mid-request, a local clock far from the server's, and a bandwidth limit.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { exchange, NoAnswerError } from "../src/store/exchange.ts";
import { S3Store } from "../src/store/s3.ts";
import { createS3Client } from "../src/store/s3_client.ts";
import { S3Error } from "../src/store/s3_error.ts";
import { MiB } from "../src/pipeline/etag.ts";
import {
  bytes,
  listBucket,
  newBucket,
  runDaemon,
  siteConfig,
  tempDir,
  writeConfig,
  writeFile,
} from "./helpers.ts";
import { md5 } from "./mirror.ts";

/** A server that accepts connections and reads what comes, and never answers. */
function silentServer(): { url: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        try {
          while ((await conn.read(buffer)) !== null) { /* swallow */ }
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* already closed */ }
      }
    },
  };
}

Deno.test("a request to a server gone silent fails once no byte moves for the idle time", async () => {
  const server = silentServer();
  try {
    const body = bytes(300 * 1024, 1);
    const headers = { "content-length": String(body.byteLength) };
    const pace = (_bytes: number) => Promise.resolve();
    for (const options of [{}, { pace }]) {
      const attempt = exchange(new URL(`${server.url}/b/k`), {
        method: "PUT",
        headers,
        body,
        idleMs: 300,
        ...options,
      });
      await assert.rejects(attempt, (err: unknown) => {
        assert.ok(err instanceof NoAnswerError && err.stalled, String(err));
        assert.match(err.message, /no data moved for 0\.3 s/);
        return true;
      });
    }
  } finally {
    server.close();
  }
});

Deno.test("waiting for the bandwidth limit is not a stall: a slow-paced body longer than the idle time arrives", async () => {
  let received = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    received = (await req.arrayBuffer()).byteLength;
    return new Response("ok");
  });
  try {
    const body = bytes(3 * 64 * 1024, 2);
    const answer = await exchange(new URL(`http://127.0.0.1:${server.addr.port}/b/k`), {
      method: "PUT",
      headers: { "content-length": String(body.byteLength) },
      body,
      idleMs: 300,
      // Each slice waits longer than the idle time for its turn.
      pace: () => new Promise((resolve) => setTimeout(resolve, 500)),
    });
    assert.equal(answer.status, 200);
    assert.equal(received, body.byteLength);
  } finally {
    await server.shutdown();
  }
});

Deno.test("both request paths give up on a silent server after request_timeout, retries included", async () => {
  const server = silentServer();
  try {
    const site = {
      ...siteConfig({ localPath: "/unused", bucket: "silent" }),
      endpoint: server.url,
      s3OpsRetries: 1,
      requestTimeoutMs: 500,
    };
    const store = new S3Store(site, createS3Client(site, 4), { idleMs: site.requestTimeoutMs });
    const put = store.put("k", new Uint8Array(10), md5Base64(new Uint8Array(10)), {
      storageClass: "STANDARD",
      contentType: "text/plain",
    });
    await assert.rejects(put, (err: unknown) => {
      assert.ok(err instanceof S3Error, String(err));
      assert.match(err.message, /Cannot upload "k" in bucket "silent".*no data moved for 0\.5 s/);
      return true;
    });
    // The SDK's path (HEAD): its socket timeout is what request_timeout sets.
    await assert.rejects(store.head("k"), (err: unknown) => {
      assert.ok(err instanceof S3Error, String(err));
      assert.match(err.message, /timed out after 500 ms of inactivity/);
      return true;
    });
  } finally {
    server.close();
  }
});

const md5Base64 = (data: Uint8Array) => createHash("md5").update(data).digest("base64");

Deno.test("a local clock 30 minutes off: both paths learn the server's time and upload and list", async () => {
  const bucket = await newBucket("skew");
  const site = siteConfig({ localPath: "/unused", bucket });
  for (const first of ["put", "list"] as const) {
    const client = createS3Client(site, 4);
    // As if our clock were 30 minutes behind: both paths sign with clock + this offset.
    const clock = client.config as { systemClockOffset?: number };
    clock.systemClockOffset = -30 * 60_000;
    const store = new S3Store(site, client, { idleMs: 10_000 });
    const body = new TextEncoder().encode(`skewed ${first}`);
    const put = () =>
      store.put(`${first}.txt`, body, md5Base64(body), {
        storageClass: "STANDARD",
        contentType: "text/plain",
      });
    const list = async () => {
      const keys: string[] = [];
      for await (const page of store.list("")) keys.push(...page.map((o) => o.key));
      return keys;
    };
    if (first === "put") {
      await put();
      await list();
    } else {
      await list();
      await put();
    }
    assert.ok(Math.abs(clock.systemClockOffset ?? 0) < 60_000, `${clock.systemClockOffset}`);
  }
  const listed = await listBucket(bucket);
  assert.deepEqual([...listed.keys()].sort(), ["list.txt", "put.txt"]);
  assert.equal(listed.get("put.txt")?.etag, md5("skewed put"));
});

Deno.test("with bandwidth limits, global and per site, every file arrives whole", async () => {
  const root = await tempDir();
  const bucket = await newBucket("bwlimit");
  const files: Record<string, Uint8Array> = { "big.bin": bytes(9 * MiB, 5) };
  for (let i = 0; i < 20; i++) files[`small/${i}.bin`] = bytes(50_000 + i, i);
  for (const [rel, data] of Object.entries(files)) await writeFile(root, rel, data);
  const config = await writeConfig(
    await tempDir(),
    [{ local_path: root, bucket, bandwidth_limit: "16MiB/s" }],
    { bandwidth_limit: "24MiB/s" },
  );
  const result = await runDaemon(["--config", config, "--once"]);
  assert.equal(result.code, 0, result.stderr);
  const listed = await listBucket(bucket);
  assert.deepEqual([...listed.keys()].sort(), Object.keys(files).sort());
  for (const [rel, data] of Object.entries(files)) {
    const etag = listed.get(rel)?.etag ?? "";
    if (rel === "big.bin") assert.match(etag, /-2$/);
    else assert.equal(etag, md5(data), rel);
  }
});
