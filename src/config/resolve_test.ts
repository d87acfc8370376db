import assert from "node:assert/strict";
import { defaultStateDir, resolveConfig } from "./resolve.ts";
import { ConfigError } from "../lib/errors.ts";
import { ABSOLUTE_RULE, absolutePath } from "./test_support.ts";

const SITE = { local_path: absolutePath("/data"), bucket: "b" };
const resolve = (raw: unknown, env: Record<string, string> = {}, cpus = 4) =>
  resolveConfig(raw, env, cpus);
const config = (raw: Record<string, unknown>, env: Record<string, string> = {}) =>
  resolve({ sites: [SITE], ...raw }, env).config;
const fails = (raw: unknown, message: string, env: Record<string, string> = {}) =>
  assert.throws(() => resolve(raw, env), { name: "ConfigError", message });
const failsGlobal = (raw: Record<string, unknown>, message: string) =>
  fails({ sites: [SITE], ...raw }, message);

/** The message of what `fn` throws; assert.throws() returns nothing to inspect. */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.equal((err as Error).name, "ConfigError");
    return (err as Error).message;
  }
  throw new assert.AssertionError({ message: "expected a ConfigError" });
}

Deno.test("resolveConfig() rejects an empty document and non-mappings", () => {
  fails(null, 'the config is empty: it must be a mapping with at least "sites"');
  fails(undefined, 'the config is empty: it must be a mapping with at least "sites"');
  fails([1, 2], "the config must be a mapping of settings, got a list");
  fails("AKIA-secret-ish", "the config must be a mapping of settings, got a string");
});

Deno.test("resolveConfig() requires a non-empty list of sites", () => {
  fails({}, "sites: must be a non-empty list of sites");
  fails({ sites: [] }, "sites: must be a non-empty list of sites, got []");
  fails({ sites: "x" }, 'sites: must be a non-empty list of sites, got "x"');
  fails({ sites: [5] }, "sites[0]: must be a mapping, got 5");
});

Deno.test("resolveConfig() fills every global default", () => {
  const { config: c, warnings } = resolve({ sites: [SITE] }, {}, 3);
  assert.deepEqual(warnings, []);
  assert.equal(c.logLevel, "info");
  assert.equal(c.logFormat, "text");
  assert.equal(c.shutdownTimeoutMs, 30_000);
  assert.equal(c.uploadQueueBuffer, 0);
  assert.equal(c.uploadWorkers, "auto");
  assert.equal(c.bandwidthLimit, 0);
  assert.equal(c.sites[0]?.requestTimeoutMs, 60_000);
  assert.equal(c.checksumWorkers, 6);
  const s = c.sites[0];
  assert.ok(s);
  assert.equal(s.bucketRegion, "us-east-1");
  assert.equal(s.watchIntervalMs, 1000);
  assert.equal(s.s3OpsRetries, 5);
  assert.equal(s.reconcileIntervalMs, 3_600_000);
  assert.equal(s.credentials, undefined);
});

Deno.test("resolveConfig() reads every global setting", () => {
  const c = config({
    loglevel: "DEBUG",
    upload_queue_buffer: 100,
    upload_workers: 4,
    checksum_workers: 3,
    watch_interval: "500ms",
    s3_ops_retries: 2,
    reconcile_interval: "0",
    aws_region: "eu-west-1",
    request_timeout: "15s",
    bandwidth_limit: "20MiB/s",
  });
  assert.equal(c.bandwidthLimit, 20 * 1024 * 1024);
  assert.equal(c.sites[0]?.requestTimeoutMs, 15_000);
  // The global limit caps all sites together; it is not each site's.
  assert.equal(c.sites[0]?.bandwidthLimit, 0);
  assert.equal(c.logLevel, "debug");
  assert.equal(c.uploadQueueBuffer, 100);
  assert.equal(c.uploadWorkers, 4);
  assert.equal(c.checksumWorkers, 3);
  assert.equal(c.sites[0]?.watchIntervalMs, 500);
  assert.equal(c.sites[0]?.s3OpsRetries, 2);
  assert.equal(c.sites[0]?.reconcileIntervalMs, 0);
  assert.equal(c.sites[0]?.bucketRegion, "eu-west-1");
  assert.equal(config({ reconcile_interval: 0 }).sites[0]?.reconcileIntervalMs, 0);
});

Deno.test("resolveConfig() takes the region from AWS_REGION, then AWS_DEFAULT_REGION", () => {
  const env = { AWS_REGION: "eu-north-1", AWS_DEFAULT_REGION: "ap-south-1" };
  assert.equal(config({}, env).sites[0]?.bucketRegion, "eu-north-1");
  assert.equal(
    config({}, { AWS_DEFAULT_REGION: "ap-south-1" }).sites[0]?.bucketRegion,
    "ap-south-1",
  );
  assert.equal(config({ aws_region: "us-west-2" }, env).sites[0]?.bucketRegion, "us-west-2");
});

Deno.test("resolveConfig() runs 2 checksum workers under Kubernetes", () => {
  assert.equal(config({}, { KUBERNETES_SERVICE_HOST: "10.0.0.1" }).checksumWorkers, 2);
  assert.equal(resolve({ sites: [SITE] }, {}, 1).config.checksumWorkers, 2);
  assert.equal(resolve({ sites: [SITE] }, {}, 16).config.checksumWorkers, 32);
});

Deno.test('resolveConfig() reads upload_workers "auto" in any case, and a site\'s own limits', () => {
  assert.equal(config({ upload_workers: "AUTO" }).uploadWorkers, "auto");
  const c = resolve(
    {
      request_timeout: "20s",
      sites: [{ ...SITE, request_timeout: "5s", bandwidth_limit: "100Mbit/s" }, {
        ...SITE,
        local_path: absolutePath("/other"),
        bucket: "c",
      }],
    },
    {},
    2,
  ).config;
  assert.deepEqual(c.sites.map((s) => [s.requestTimeoutMs, s.bandwidthLimit]), [
    [5_000, 12_500_000],
    [20_000, 0],
  ]);
  failsGlobal(
    { request_timeout: "0" },
    'request_timeout: must be a duration greater than 0 and at most 1h, got "0"',
  );
  failsGlobal(
    { bandwidth_limit: "fast" },
    'bandwidth_limit: must be a rate such as "20MiB/s", "500KB/s" or "100Mbit/s", or 0 for no limit, got "fast"',
  );
});

Deno.test("resolveConfig() checks integer types and bounds", () => {
  failsGlobal(
    { upload_workers: "10" },
    'upload_workers: must be "auto" or an integer from 1 to 1024, got "10"',
  );
  failsGlobal(
    { upload_workers: 1.5 },
    'upload_workers: must be "auto" or an integer from 1 to 1024, got 1.5',
  );
  failsGlobal(
    { upload_workers: 0 },
    'upload_workers: must be "auto" or an integer from 1 to 1024, got 0',
  );
  failsGlobal(
    { upload_workers: 1025 },
    'upload_workers: must be "auto" or an integer from 1 to 1024, got 1025',
  );
  failsGlobal(
    { checksum_workers: 1e20 },
    "checksum_workers: must be an integer from 1 to 1024, got 100000000000000000000",
  );
  failsGlobal({ s3_ops_retries: 101 }, "s3_ops_retries: must be an integer from 1 to 100, got 101");
  failsGlobal({ s3_ops_retries: 0 }, "s3_ops_retries: must be an integer from 1 to 100, got 0");
  failsGlobal(
    { upload_queue_buffer: -1 },
    "upload_queue_buffer: must be an integer from 0 to 1000000, got -1",
  );
  failsGlobal(
    { upload_queue_buffer: 1_000_001 },
    "upload_queue_buffer: must be an integer from 0 to 1000000, got 1000001",
  );
  failsGlobal(
    { upload_workers: [1] },
    'upload_workers: must be "auto" or an integer from 1 to 1024, got [1]',
  );
});

Deno.test("resolveConfig() checks durations", () => {
  failsGlobal(
    { watch_interval: "0s" },
    'watch_interval: must be a duration greater than 0 and at most 24h, got "0s"',
  );
  failsGlobal(
    { watch_interval: "25h" },
    'watch_interval: must be a duration greater than 0 and at most 24h, got "25h"',
  );
  failsGlobal(
    { watch_interval: 1000 },
    'watch_interval: must be a duration such as "30s" or "1m30s", got 1000',
  );
  failsGlobal(
    { watch_interval: "1000" },
    'watch_interval: invalid duration "1000": missing unit (ns, us, ms, s, m, h)',
  );
  failsGlobal(
    { reconcile_interval: "721h" },
    'reconcile_interval: must be a duration 0 (disabled) and at most 720h, got "721h"',
  );
  failsGlobal(
    { reconcile_interval: "-1h" },
    'reconcile_interval: invalid duration "-1h": must not be negative',
  );
});

Deno.test("resolveConfig() checks loglevel and aws_region", () => {
  failsGlobal(
    { loglevel: "verbose" },
    'loglevel: must be one of "trace", "debug", "info", "warn", "error", "fatal", "panic", ' +
      'got "verbose"',
  );
  failsGlobal({ aws_region: 5 }, "aws_region: must be a string, got 5 (put it in quotes)");
});

Deno.test("resolveConfig() truncates long values in messages", () => {
  const long = "x".repeat(200);
  failsGlobal({ loglevel: [long] }, `loglevel: must be a string, got ["${"x".repeat(55)}...`);
});

Deno.test("resolveConfig() prefers site credentials, then global ones, then none", () => {
  const global = { access_key: "GA", secret_access_key: "GS" };
  const own = { ...SITE, bucket: "own", access_key: "SA", secret_access_key: "SS" };
  const c = resolve({ ...global, sites: [SITE, own] }).config;
  assert.deepEqual(c.sites[0]?.credentials, { accessKeyId: "GA", secretAccessKey: "GS" });
  assert.deepEqual(c.sites[1]?.credentials, { accessKeyId: "SA", secretAccessKey: "SS" });
  assert.equal(config({ access_key: "" }).sites[0]?.credentials, undefined);
});

Deno.test("resolveConfig() rejects half a credentials pair", () => {
  failsGlobal({ access_key: "A" }, "secret_access_key: required when access_key is set");
  failsGlobal({ secret_access_key: "S" }, "access_key: required when secret_access_key is set");
  fails(
    { access_key: "GA", secret_access_key: "GS", sites: [{ ...SITE, access_key: "A" }] },
    "sites[0].secret_access_key: required when access_key is set",
  );
});

Deno.test("resolveConfig() never puts a key or secret in a message", () => {
  const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET";
  for (const bad of [[secret], { v: secret }, 12345678901]) {
    for (const field of ["access_key", "secret_access_key"]) {
      const raws = [{ sites: [SITE], [field]: bad }, { sites: [{ ...SITE, [field]: bad }] }];
      for (const raw of raws) {
        const message = thrown(() => resolve(raw));
        assert.match(
          message,
          /access_key: must be a string, got <redacted (list|mapping|number)>$/,
        );
        assert.ok(!message.includes(secret) && !message.includes("12345678901"), message);
      }
    }
  }
});

Deno.test("resolveConfig() warns about unknown keys and suggests the closest one", () => {
  const { warnings } = resolve({
    sites: [{ ...SITE, retire_delete: true, colour: "blue" }],
    upload_worker: 3,
  });
  assert.deepEqual(warnings, [
    'upload_worker: unknown key, did you mean "upload_workers"?',
    'sites[0].retire_delete: unknown key, did you mean "retire_deleted"?',
    "sites[0].colour: unknown key, ignored",
  ]);
});

Deno.test("resolveConfig() returns a deeply frozen config", () => {
  const c = config({});
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.sites) && Object.isFrozen(c.sites[0]));
  assert.ok(Object.isFrozen(c.sites[0]?.inclusions) && Object.isFrozen(c.sites[0]?.inclusions[0]));
  assert.equal(c.sites[0]?.inclusions[0]?.test("a/b.txt"), true); // frozen RegExps still match
});

Deno.test("resolveConfig() reads log_format and shutdown_timeout, and rejects bad ones", () => {
  const c = config({ log_format: "JSON", shutdown_timeout: "1m" });
  assert.equal(c.logFormat, "json");
  assert.equal(c.shutdownTimeoutMs, 60_000);
  assert.equal(config({ shutdown_timeout: "0" }).shutdownTimeoutMs, 0);
  failsGlobal({ log_format: "xml" }, 'log_format: must be "text" or "json", got "xml"');
  failsGlobal(
    { shutdown_timeout: "2h" },
    'shutdown_timeout: must be a duration 0 (disabled) and at most 1h, got "2h"',
  );
});

Deno.test("resolveConfig() finds the state directory: config, then S3SYNC_STATE_DIR", () => {
  const env = { S3SYNC_STATE_DIR: absolutePath("/k8s/state"), HOME: absolutePath("/home/u") };
  assert.equal(
    config({ state_dir: absolutePath("/srv/state/") }, env).stateDir,
    absolutePath("/srv/state"),
  );
  failsGlobal({ state_dir: "state" }, `state_dir: ${ABSOLUTE_RULE}, got "state"`);
  assert.equal(config({}, env).stateDir, absolutePath("/k8s/state"));
});

Deno.test({
  name: "resolveConfig() takes systemd's STATE_DIRECTORY next",
  // systemd is POSIX, and its ":" list separator cannot hold a Windows path with a drive.
  ignore: Deno.build.os === "windows",
  fn() {
    const env = {
      S3SYNC_STATE_DIR: "/k8s/state",
      STATE_DIRECTORY: "/var/lib/x:/var/lib/y",
      HOME: "/home/u",
    };
    assert.equal(config({}, env).stateDir, "/k8s/state");
    assert.equal(config({}, { ...env, S3SYNC_STATE_DIR: "" }).stateDir, "/var/lib/x");
  },
});

Deno.test({
  name: "resolveConfig() falls back to the XDG state folder, then /var/lib",
  // The defaults are Linux's; defaultStateDir() below checks macOS's and Windows' by injection.
  ignore: Deno.build.os !== "linux",
  fn() {
    assert.equal(
      config({}, { XDG_STATE_HOME: "/xdg", HOME: "/home/u" }).stateDir,
      "/xdg/s3sync-service",
    );
    assert.equal(config({}, { HOME: "/home/u" }).stateDir, "/home/u/.local/state/s3sync-service");
    assert.equal(config({}, {}).stateDir, "/var/lib/s3sync-service");
  },
});

Deno.test("defaultStateDir() follows each system's convention", () => {
  const env = {
    HOME: "/Users/u",
    XDG_STATE_HOME: "/xdg",
    LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local",
  };
  assert.equal(defaultStateDir(env, "linux"), "/xdg/s3sync-service");
  assert.equal(
    defaultStateDir(env, "darwin"),
    "/Users/u/Library/Application Support/s3sync-service",
  );
  assert.equal(defaultStateDir(env, "windows"), "C:\\Users\\u\\AppData\\Local\\s3sync-service");
  assert.equal(defaultStateDir({}, "windows"), "C:\\ProgramData\\s3sync-service");
});

Deno.test("resolveConfig() reports every mistake at once, in document order", () => {
  const raw = {
    loglevel: "loud",
    sites: [
      { ...SITE, local_path: "data" },
      SITE,
      { ...SITE, bucket: "c", storage_class: "COLD", exclusions: ["(", "ok", "["] },
    ],
  };
  let caught: unknown;
  try {
    resolve(raw);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, String(caught));
  assert.deepEqual(caught.errors.map((e) => e.field), [
    "loglevel",
    "sites[0].local_path",
    "sites[2].storage_class",
    "sites[2].exclusions[0]",
    "sites[2].exclusions[2]",
  ]);
  const lines = caught.message.split("\n");
  assert.equal(lines.length, 6);
  assert.equal(lines[0], "5 errors in the config:");
  assert.match(lines[1] ?? "", /^ {2}loglevel: must be one of "trace", .*, got "loud"$/);
  assert.equal(
    lines[2],
    `  sites[0].local_path: ${ABSOLUTE_RULE}, got "data"`,
  );
  assert.match(lines[3] ?? "", /^ {2}sites\[2\]\.storage_class: must be one of .*, got "COLD"$/);
  assert.match(lines[4] ?? "", /^ {2}sites\[2\]\.exclusions\[0\]: invalid regular expression "\("/);
  // Each error on its own keeps its field, rule and one-line message.
  assert.equal(caught.errors[1]?.rule, `${ABSOLUTE_RULE}, got "data"`);
  assert.equal(caught.errors[1]?.message, lines[2]?.trim());
});

Deno.test("resolveConfig() orders mistakes as the file does, not as it reads keys", () => {
  // YAML keeps key order: sites written before the global keys are reported first.
  const raw = {
    sites: [{ bucket_path: "a//b", ...SITE, local_path: "x" }],
    state_dir: "state",
    loglevel: "loud",
  };
  const message = thrown(() => resolve(raw));
  assert.deepEqual(message.split("\n").map((line) => line.trim().split(":")[0]), [
    "4 errors in the config",
    "sites[0].bucket_path",
    "sites[0].local_path",
    "state_dir",
    "loglevel",
  ]);
});

Deno.test("resolveConfig() keeps the message of a single mistake as it was", () => {
  let caught: unknown;
  try {
    resolve({ sites: [{ ...SITE, local_path: "data" }] });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError);
  assert.equal(
    caught.message,
    `sites[0].local_path: ${ABSOLUTE_RULE}, got "data"`,
  );
  assert.equal(caught.field, "sites[0].local_path");
  assert.deepEqual(caught.errors, [caught]);
});

Deno.test("resolveConfig() reports a missing sites list with the global mistakes", () => {
  const message = thrown(() => resolve({ upload_workers: 0, checksum_workers: "many" }));
  assert.deepEqual(message.split("\n").map((line) => line.trim().split(":")[0]), [
    "3 errors in the config",
    "upload_workers",
    "checksum_workers",
    "sites",
  ]);
});

Deno.test("resolveConfig() still warns when the config is valid", () => {
  const { warnings } = resolve({
    sites: [{ ...SITE, retire_delete: true, inclusions: [] }],
    uplod_workers: 2,
  });
  assert.deepEqual(warnings, [
    'uplod_workers: unknown key, did you mean "upload_workers"?',
    'sites[0].retire_delete: unknown key, did you mean "retire_deleted"?',
    "sites[0].inclusions: empty list, no file will be synced",
  ]);
});
