/**
 * The control plane end to end: a daemon with its HTTP and metrics servers, reloaded by HTTP, by
 * SIGHUP and by a config file change, and stopped in the middle of an upload.
 */

import assert from "node:assert/strict";
import { stringify } from "yaml";
import { MiB } from "../src/pipeline/etag.ts";
import {
  bytes,
  Daemon,
  freePort,
  listBucket,
  newBucket,
  parseMetrics,
  pendingUploads,
  runDaemon,
  sortedKeys,
  tempDir,
  testS3,
  waitFor,
  writeConfig,
  writeFile,
} from "./helpers.ts";

interface Running {
  readonly daemon: Daemon;
  readonly http: string;
  readonly metrics: string;
}

function start(configPath: string, env: Record<string, string> = {}): Running {
  const httpPort = freePort();
  const metricsPort = freePort();
  const daemon = new Daemon([
    "--config",
    configPath,
    "--http-host",
    "127.0.0.1",
    "--http-port",
    String(httpPort),
    "--metrics-port",
    String(metricsPort),
  ], { env });
  return {
    daemon,
    http: `http://127.0.0.1:${httpPort}`,
    metrics: `http://127.0.0.1:${metricsPort}/metrics`,
  };
}

async function info(base: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}/info`);
  assert.equal(response.status, 200);
  return await response.json();
}

/** Rewrites the config file in place, as an operator's editor would. */
async function rewrite(path: string, sites: Record<string, unknown>[]) {
  const s3 = testS3();
  await Deno.writeTextFile(
    path,
    stringify({
      access_key: s3.accessKey,
      secret_access_key: s3.secretKey,
      aws_region: s3.region,
      sites: sites.map((site) => ({ endpoint: s3.endpoint, watch_interval: "200ms", ...site })),
    }),
  );
}

Deno.test("a reload by HTTP and by SIGHUP swaps sites: the new one syncs, the old one stops", async () => {
  const one = await tempDir();
  const two = await tempDir();
  const three = await tempDir();
  const [b1, b2, b3] = [
    await newBucket("reload-a"),
    await newBucket("reload-b"),
    await newBucket("reload-c"),
  ];
  await writeFile(one, "1.txt", "1");
  await writeFile(two, "2.txt", "2");
  await writeFile(three, "3.txt", "3");
  const dir = await tempDir();
  const config = await writeConfig(dir, [{ local_path: one, bucket: b1, watch_interval: "200ms" }]);
  const { daemon, http } = start(config);
  try {
    await daemon.waitForLog(/initial sync done/);
    await rewrite(config, [{ local_path: two, bucket: b2 }]);
    const reload = await fetch(`${http}/reload`, { method: "POST" });
    assert.equal(reload.status, 200);
    assert.equal(reload.headers.get("server"), "s3sync-service");
    await reload.body?.cancel();
    await waitFor("site two synced", async () => (await sortedKeys(b2)).join() === "2.txt");
    await writeFile(one, "late.txt", "written after site one was removed");

    await rewrite(config, [{ local_path: three, bucket: b3 }]);
    daemon.signal("SIGHUP");
    await waitFor("site three synced", async () => (await sortedKeys(b3)).join() === "3.txt");
    const body = await info(http);
    assert.equal(body.STATUS, "RUNNING");
    assert.equal(body.SITES, 1);
    assert.equal((body.SITE_STATES as { name: string }[])[0]?.name, b3);
    assert.deepEqual(await sortedKeys(b1), ["1.txt"]);
  } finally {
    assert.equal(await daemon.stop(), 0);
  }
});

Deno.test("an invalid config on reload keeps the old one running, and /info and metrics say so", async () => {
  const root = await tempDir();
  const bucket = await newBucket("badreload");
  await writeFile(root, "a.txt", "a");
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    watch_interval: "200ms",
  }]);
  const { daemon, http, metrics } = start(config);
  try {
    await daemon.waitForLog(/initial sync done/);
    await Deno.writeTextFile(config, "sites:\n  - local_path: relative/path\n    bucket: x\n");
    await (await fetch(`${http}/reload`)).body?.cancel();
    await waitFor(
      "the reload error in /info",
      async () => (await info(http)).RELOAD_ERROR !== null,
    );
    assert.equal(
      (await info(http)).RELOAD_ERROR,
      'sites[0].local_path: must be an absolute path (like /data), got "relative/path"',
    );
    const values = parseMetrics(await (await fetch(metrics)).text());
    assert.equal(values.get("s3sync_config_error"), 1);
    assert.equal(values.get('s3sync_config_reloads_total{result="failure"}'), 1);
    // The old site still syncs.
    await writeFile(root, "b.txt", "b");
    await waitFor(
      "b.txt uploaded by the old config",
      async () => (await sortedKeys(bucket)).join() === "a.txt,b.txt",
    );
  } finally {
    await daemon.stop();
  }
});

Deno.test("/metrics reports the objects and bytes that are in the bucket", async () => {
  const root = await tempDir();
  const bucket = await newBucket("metrics");
  await writeFile(root, "a.txt", "aaaa");
  await writeFile(root, "dir/b.bin", bytes(12345, 2));
  const config = await writeConfig(await tempDir(), [{
    local_path: root,
    bucket,
    bucket_path: "m",
  }]);
  const { daemon, metrics } = start(config);
  try {
    await daemon.waitForLog(/initial sync done/);
    const listed = await listBucket(bucket);
    const size = [...listed.values()].reduce((sum, object) => sum + object.size, 0);
    const values = parseMetrics(await (await fetch(metrics)).text());
    const labels = `local_path="${root}",bucket="${bucket}",bucket_path="m",site="${bucket}/m"`;
    assert.equal(values.get(`s3sync_data_objects_count{${labels}}`), listed.size);
    assert.equal(values.get(`s3sync_data_total_size{${labels}}`), size);
    assert.equal(values.get(`s3sync_uploads_total{site="${bucket}/m"}`), 2);
    assert.equal(values.get(`s3sync_errors_count{${labels},scope="cloud"}`), 0);
  } finally {
    await daemon.stop();
  }
});

Deno.test("SIGTERM during a large upload keeps it to resume; the next run completes it and leaves none", async () => {
  const root = await tempDir();
  const bucket = await newBucket("sigterm");
  await writeFile(root, "huge.bin", bytes(200 * MiB, 9));
  const config = await writeConfig(await tempDir(), [{ local_path: root, bucket }], {
    loglevel: "debug",
    shutdown_timeout: "0s",
  });
  const { daemon } = start(config);
  await daemon.waitForLog(/not in the bucket site=\S+ path=huge\.bin/);
  // A zero grace period cancels the upload at once instead of letting it finish.
  daemon.signal("SIGTERM");
  assert.equal(await daemon.exited(), 0);
  assert.deepEqual(await sortedKeys(bucket), []);
  // Kept (and remembered) for the next start to resume, not thrown away.
  for (const key of await pendingUploads(bucket)) assert.equal(key, "huge.bin");
  const again = await runDaemon(["--config", config, "--once"]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(await sortedKeys(bucket), ["huge.bin"]);
  assert.deepEqual(await pendingUploads(bucket), []);
});

Deno.test("a change to the config file reloads the daemon by itself", async () => {
  const one = await tempDir();
  const two = await tempDir();
  const [b1, b2] = [await newBucket("cfgwatch-a"), await newBucket("cfgwatch-b")];
  await writeFile(one, "1.txt", "1");
  await writeFile(two, "2.txt", "2");
  const config = await writeConfig(await tempDir(), [{ local_path: one, bucket: b1 }]);
  const { daemon } = start(config);
  try {
    await daemon.waitForLog(/initial sync done/);
    await rewrite(config, [{ local_path: one, bucket: b1 }, { local_path: two, bucket: b2 }]);
    await waitFor("site two synced", async () => (await sortedKeys(b2)).join() === "2.txt");
    assert.match(daemon.log, /config reloaded sites=2/);
  } finally {
    await daemon.stop();
  }
});

Deno.test("reloads while uploads are in flight lose nothing and upload nothing twice", async () => {
  const root = await tempDir();
  const bucket = await newBucket("reloadrace");
  const expected: string[] = [];
  for (let i = 0; i < 300; i++) {
    await writeFile(root, `f${i}.bin`, bytes(64 * 1024, i + 1));
    expected.push(`f${i}.bin`);
  }
  const config = await writeConfig(await tempDir(), [{ local_path: root, bucket }], {
    upload_workers: 4,
  });
  const { daemon, http } = start(config);
  try {
    await daemon.waitForLog(/uploaded site=/);
    for (let i = 0; i < 3; i++) {
      await (await fetch(`${http}/reload?force`, { method: "POST" })).body?.cancel();
    }
    await waitFor(
      "every file in the bucket",
      async () => (await sortedKeys(bucket)).length === 300,
      60_000,
    );
    await waitFor("the last reload done", async () => (await info(http)).STATUS === "RUNNING");
    assert.deepEqual(await sortedKeys(bucket), expected.sort());
    const uploads = [...daemon.log.matchAll(/uploaded site=\S+ key=(\S+)/g)].map((m) => m[1]);
    assert.equal(uploads.length, 300, "each file uploaded exactly once");
    assert.equal(new Set(uploads).size, 300);
    assert.match(daemon.log, /reloading sites=1 force=true/);
  } finally {
    await daemon.stop();
  }
});

Deno.test("no key, secret or token appears in the logs, /info or /metrics of a full run", async () => {
  const root = await tempDir();
  const bucket = await newBucket("secrets");
  await writeFile(root, "a.txt", "a");
  const s3 = testS3();
  const token = `tok-${crypto.randomUUID()}`;
  const config = await writeConfig(await tempDir(), [
    { local_path: root, bucket, watch_interval: "200ms" },
    // A site that fails: its errors must not carry the keys either.
    { local_path: root, bucket: "no-such-bucket-for-secrets", bucket_path: "x" },
  ], { loglevel: "trace" });
  const { daemon, http, metrics } = start(config, { S3SYNC_HTTP_TOKEN: token });
  let outputs = "";
  try {
    await waitFor("a.txt uploaded", async () => (await sortedKeys(bucket)).join() === "a.txt");
    await daemon.waitForLog(/NoSuchBucket/);
    await writeFile(root, "b.txt", "b");
    await waitFor("b.txt uploaded", async () => (await sortedKeys(bucket)).length === 2);
    const denied = await fetch(`${http}/reload`, {
      headers: { Authorization: "Bearer wrong" },
    });
    assert.equal(denied.status, 401);
    outputs += await denied.text();
    const allowed = await fetch(`${http}/reload?force`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(allowed.status, 200);
    outputs += await allowed.text();
    outputs += await (await fetch(`${http}/info`)).text();
    outputs += await (await fetch(metrics)).text();
  } finally {
    await daemon.stop();
  }
  outputs += daemon.log;
  assert.match(outputs, /uploaded site=/);
  for (const secret of [s3.accessKey, s3.secretKey, token]) {
    assert.ok(!outputs.includes(secret), `a secret leaked into the output`);
  }
});

Deno.test("a config with several mistakes is refused with each on a line of its own, and nothing starts", async () => {
  const dir = await tempDir();
  const bucket = await newBucket("badcfg");
  const root = await tempDir();
  await writeFile(root, "a.txt", "a");
  const config = `${dir}/config.yml`;
  await Deno.writeTextFile(
    config,
    stringify({
      loglevel: "loud",
      bandwidth_limit: "fast",
      sites: [
        { local_path: "relative", bucket },
        { local_path: root, bucket, bucket_path: "x", inclusions: [], retire_deleted: true },
      ],
    }),
  );
  const result = await runDaemon(["--config", config, "--once"]);
  assert.equal(result.code, 2, result.stderr);
  assert.deepEqual(result.stderr.trimEnd().split("\n").map((line) => line.split(":")[1]?.trim()), [
    "4 errors in the config",
    "loglevel",
    "bandwidth_limit",
    "sites[0].local_path",
    "sites[1].inclusions",
  ]);
  for (const line of result.stderr.trimEnd().split("\n")) assert.match(line, /^s3sync-service: /);
  assert.deepEqual(await sortedKeys(bucket), []);
});
