/**
 * Proxies and private certificate authorities, end to end: the daemon run with --once against
 * the real server behind a TLS front (a certificate from a CA made here) and a forward proxy run
 * by the test. Each sync lists and completes multipart uploads through the SDK and sends PUTs,
 * parts and deletes through S3Http, so both request paths are exercised; the bucket's contents
 * are read directly from the server.
 *
 * Where it matters that nothing went around the proxy, the daemon's endpoint is an address where
 * nothing listens, and only the proxy knows where the server really is (`routes`).
 */

import assert from "node:assert/strict";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { PART_SIZE } from "../src/pipeline/etag.ts";
import { createHash } from "node:crypto";
import { createS3Store } from "../src/store/s3.ts";
import { S3Error } from "../src/store/s3_error.ts";
import { HttpProxy } from "./http_proxy.ts";
import { makeTestCa, type TestCa, TlsFront } from "./tls_front.ts";
import {
  bytes,
  freePort,
  newBucket,
  runDaemon,
  siteConfig,
  sortedKeys,
  tempDir,
  testS3,
  writeConfig,
  writeFile,
} from "./helpers.ts";

const EXPECTED = ["dir/large.bin", "small.txt"];

/**
 * A folder with a small file and one over the multipart threshold, and a bucket holding a stale
 * object that `retire_deleted` removes.
 */
async function fixture(label: string): Promise<{ root: string; bucket: string }> {
  const root = await tempDir();
  await writeFile(root, "small.txt", "small");
  await writeFile(root, "dir/large.bin", bytes(PART_SIZE + 1024, 7));
  const bucket = await newBucket(label);
  await testS3().client.send(
    new PutObjectCommand({ Bucket: bucket, Key: "stale.txt", Body: "old" }),
  );
  return { root, bucket };
}

/**
 * Every proxy variable set, so that the runner's own environment cannot leak in; and no update
 * check, which the deno executable running the daemon would otherwise send through the proxy.
 */
function proxyEnv(vars: Record<string, string>): Record<string, string> {
  const names = ["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "AWS_CA_BUNDLE"];
  const env: Record<string, string> = { DENO_NO_UPDATE_CHECK: "1" };
  for (const name of names) env[name] = env[name.toLowerCase()] = "";
  return { ...env, ...vars };
}

async function syncOnce(
  site: Record<string, unknown>,
  env: Record<string, string>,
): Promise<{ code: number; log: string }> {
  const config = await writeConfig(await tempDir(), [{ retire_deleted: true, ...site }]);
  const result = await runDaemon(["--config", config, "--once"], { env: proxyEnv(env) });
  return { code: result.code, log: result.stdout + result.stderr };
}

const rgw = (): string => {
  const url = new URL(testS3().endpoint);
  return `${url.hostname}:${url.port || 80}`;
};

async function withTls<T>(run: (ca: TestCa, front: TlsFront) => Promise<T>): Promise<T> {
  const ca = await makeTestCa(await tempDir());
  const front = await TlsFront.start(new URL(testS3().endpoint), ca);
  try {
    return await run(ca, front);
  } finally {
    await front.close();
  }
}

Deno.test("a site on an https endpoint signed by a private CA syncs when ca_bundle names the CA", async () => {
  await withTls(async (ca, front) => {
    const { root, bucket } = await fixture("tls-ca");
    const { code, log } = await syncOnce(
      { local_path: root, bucket, endpoint: front.endpoint, ca_bundle: ca.caPath },
      {},
    );
    assert.equal(code, 0, log);
    assert.deepEqual(await sortedKeys(bucket), EXPECTED);
    assert.ok(front.forwarded > 0, "nothing went through the TLS front");
    assert.match(log, /S3 requests go direct endpoint=https:\/\/127\.0\.0\.1:\d+ proxy=none/);
    assert.match(log, new RegExp(`ca_bundle=${ca.caPath}`));
  });
});

Deno.test("without the CA, the sync fails naming the endpoint and the cause, and uploads nothing", async () => {
  await withTls(async (_ca, front) => {
    const { root, bucket } = await fixture("tls-noca");
    const { code, log } = await syncOnce(
      { local_path: root, bucket, endpoint: front.endpoint },
      {},
    );
    assert.notEqual(code, 0, log);
    const port = front.port;
    assert.match(
      log,
      new RegExp(
        `TLS handshake with https://127\\.0\\.0\\.1:${port} failed: unable to verify the first ` +
          "certificate; the certificate is not signed by a CA this host trusts",
      ),
    );
    assert.deepEqual(await sortedKeys(bucket), ["stale.txt"]);
    assert.equal(front.forwarded, 0);
  });
});

Deno.test("an upload (our own request path) to an untrusted certificate fails at once, unretried", async () => {
  await withTls(async (_ca, front) => {
    const site = {
      ...siteConfig({ localPath: "/unused", bucket: "untrusted" }),
      endpoint: front.endpoint,
      s3OpsRetries: 5,
    };
    const store = createS3Store(site, 2);
    const body = new TextEncoder().encode("x");
    const md5 = createHash("md5").update(body).digest("base64");
    const put = store.put("k", body, md5, { storageClass: "STANDARD", contentType: "text/plain" });
    await assert.rejects(put, (err: unknown) => {
      assert.ok(err instanceof S3Error, String(err));
      assert.equal(err.code, "TlsHandshakeFailed");
      assert.match(
        err.message,
        /Cannot upload "k".*TLS handshake with https:\/\/127\.0\.0\.1:\d+ failed/,
      );
      return true;
    });
    // One handshake: a certificate refused is not retried.
    assert.equal(front.connections, 1);
  });
});

Deno.test("HTTP_PROXY carries every request to a plain http endpoint, with absolute URIs", async () => {
  const nowhere = `127.0.0.1:${freePort()}`;
  const proxy = new HttpProxy({ routes: { [nowhere]: rgw() } });
  try {
    const { root, bucket } = await fixture("fwd");
    const { code, log } = await syncOnce(
      { local_path: root, bucket, endpoint: `http://${nowhere}` },
      { HTTP_PROXY: proxy.url },
    );
    assert.equal(code, 0, log);
    assert.deepEqual(await sortedKeys(bucket), EXPECTED);
    // List, list uploads, PUT, create + 2 parts + complete, delete: at least 7.
    assert.ok(proxy.stats.requests >= 7, `only ${proxy.stats.requests} requests forwarded`);
    assert.equal(proxy.stats.connects, 0);
    assert.deepEqual(new Set(proxy.stats.targets), new Set([nowhere]));
    assert.match(log, new RegExp(`S3 requests go through a proxy endpoint=http://${nowhere} `));
  } finally {
    await proxy.close();
  }
});

Deno.test("HTTPS_PROXY tunnels to an https endpoint with CONNECT; AWS_CA_BUNDLE gives the CA", async () => {
  await withTls(async (ca, front) => {
    const nowhere = `127.0.0.1:${freePort()}`;
    const proxy = new HttpProxy({ routes: { [nowhere]: `127.0.0.1:${front.port}` } });
    try {
      const { root, bucket } = await fixture("tunnel");
      const { code, log } = await syncOnce(
        { local_path: root, bucket, endpoint: `https://${nowhere}` },
        { HTTPS_PROXY: proxy.url, AWS_CA_BUNDLE: ca.caPath },
      );
      assert.equal(code, 0, log);
      assert.deepEqual(await sortedKeys(bucket), EXPECTED);
      assert.ok(proxy.stats.connects > 0);
      assert.equal(proxy.stats.requests, 0);
      assert.deepEqual(new Set(proxy.stats.targets), new Set([nowhere]));
      assert.equal(front.connections, proxy.stats.connects);
    } finally {
      await proxy.close();
    }
  });
});

Deno.test("NO_PROXY sends a matching endpoint direct, and the proxy sees nothing", async () => {
  const proxy = new HttpProxy();
  try {
    const { root, bucket } = await fixture("noproxy");
    const { code, log } = await syncOnce(
      { local_path: root, bucket },
      { HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url, NO_PROXY: `example.com, ${rgw()}` },
    );
    assert.equal(code, 0, log);
    assert.deepEqual(await sortedKeys(bucket), EXPECTED);
    assert.deepEqual(proxy.stats, { connects: 0, requests: 0, refused: 0, targets: [] });
    assert.match(log, /S3 requests go direct .*proxy=none/);
  } finally {
    await proxy.close();
  }
});

Deno.test("proxy credentials go in Proxy-Authorization and never into the log, even when refused", async () => {
  const user = "syncuser";
  const password = "Pr0xyPa55word";
  await withTls(async (ca, front) => {
    const nowhere = `127.0.0.1:${freePort()}`;
    const routes = { [nowhere]: `127.0.0.1:${front.port}` };
    const proxy = new HttpProxy({ auth: { user, password }, routes });
    try {
      const { root, bucket } = await fixture("auth");
      const site = {
        local_path: root,
        bucket,
        endpoint: `https://${nowhere}`,
        ca_bundle: ca.caPath,
      };
      const at = proxy.url.replace("http://", "");

      const good = await syncOnce(site, { HTTPS_PROXY: `http://${user}:${password}@${at}` });
      assert.equal(good.code, 0, good.log);
      assert.deepEqual(await sortedKeys(bucket), EXPECTED);
      assert.ok(proxy.stats.connects > 0);
      assert.match(good.log, new RegExp(`proxy="http://\\*\\*\\*@${at}"`));

      await writeFile(root, "later.txt", "later");
      const bad = await syncOnce(site, { HTTPS_PROXY: `http://${user}:wrong${password}@${at}` });
      assert.notEqual(bad.code, 0, bad.log);
      assert.match(bad.log, /refused to open a tunnel to .*HTTP 407/);
      assert.ok(proxy.stats.refused > 0);
      assert.deepEqual(await sortedKeys(bucket), EXPECTED);

      for (const { log } of [good, bad]) {
        assert.ok(!log.includes(password), "the password is in the log");
        assert.ok(!log.includes(user), "the user name is in the log");
      }
    } finally {
      await proxy.close();
    }
  });
});
