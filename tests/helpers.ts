/**
 * Shared pieces for integration tests: the S3 server the test task provides, fresh buckets, temp
 * folders, a spawned daemon, and waiting on observable state with a deadline (never a sleep).
 * Assertions read the bucket with the SDK directly, not through the code under test.
 * @module
 */

import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { stringify } from "yaml";
import type { SiteConfig } from "../src/config/types.ts";
import { ENV_NAMES } from "../scripts/s3env.ts";

export interface TestS3 {
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
  readonly client: S3Client;
}

let cached: TestS3 | undefined;

/** The server `deno task test` started or was given. A test that needs it fails loudly without it. */
export function testS3(): TestS3 {
  if (cached) return cached;
  const endpoint = Deno.env.get(ENV_NAMES.endpoint);
  const accessKey = Deno.env.get(ENV_NAMES.accessKey);
  const secretKey = Deno.env.get(ENV_NAMES.secretKey);
  if (!endpoint || !accessKey || !secretKey) {
    throw new Error(
      `No test S3 server: run the tests with "deno task test", which starts one, or set ` +
        `${ENV_NAMES.endpoint}, ${ENV_NAMES.accessKey} and ${ENV_NAMES.secretKey}`,
    );
  }
  const region = Deno.env.get(ENV_NAMES.region) ?? "us-east-1";
  const client = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  cached = { endpoint, accessKey, secretKey, region, client };
  return cached;
}

let bucketCounter = 0;

/** A new, empty bucket with a name no other test uses. */
export async function newBucket(label = "t"): Promise<string> {
  const name = `${label}-${Date.now().toString(36)}-${Deno.pid}-${++bucketCounter}`
    .toLowerCase().replace(/[^a-z0-9-]/g, "-").slice(0, 63);
  await testS3().client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

export interface Listed {
  readonly size: number;
  readonly etag: string;
  readonly storageClass: string;
}

/** Every object in the bucket (under `prefix`), by key. */
export async function listBucket(bucket: string, prefix = ""): Promise<Map<string, Listed>> {
  const objects = new Map<string, Listed>();
  let token: string | undefined;
  do {
    const page = await testS3().client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix || undefined,
        ContinuationToken: token,
      }),
    );
    for (const item of page.Contents ?? []) {
      objects.set(item.Key!, {
        size: item.Size ?? 0,
        etag: (item.ETag ?? "").replaceAll('"', ""),
        storageClass: item.StorageClass ?? "STANDARD",
      });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

export async function sortedKeys(bucket: string, prefix = ""): Promise<string[]> {
  return [...(await listBucket(bucket, prefix)).keys()].sort();
}

export async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "s3sync-test-" });
}

export async function writeFile(
  root: string,
  rel: string,
  content: string | Uint8Array,
): Promise<void> {
  const path = `${root}/${rel}`;
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
}

/** Deterministic bytes that differ from one seed to the next (fast enough for many MiB). */
export function bytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
    out[i + 1] = (x >>> 8) & 0xff;
    out[i + 2] = (x >>> 16) & 0xff;
    out[i + 3] = (x >>> 24) & 0xff;
  }
  return out;
}

/** A resolved site as the config loader would produce it, pointed at the test server. */
export function siteConfig(
  overrides: Partial<SiteConfig> & Pick<SiteConfig, "localPath" | "bucket">,
): SiteConfig {
  const s3 = testS3();
  return {
    name: overrides.bucket + (overrides.bucketPath ? `/${overrides.bucketPath}` : ""),
    endpoint: s3.endpoint,
    bucketPath: "",
    bucketRegion: s3.region,
    retireDeleted: false,
    storageClass: "STANDARD",
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    watchIntervalMs: 200,
    s3OpsRetries: 3,
    requestTimeoutMs: 60_000,
    bandwidthLimit: 0,
    exclusions: [],
    inclusions: [/.*/],
    reconcileIntervalMs: 0,
    maxDelete: { percent: 50 },
    storeMtime: true,
    ...overrides,
  };
}

/** Writes a YAML config (keys as users write them) for sites on the test server. */
export async function writeConfig(
  dir: string,
  sites: Record<string, unknown>[],
  global: Record<string, unknown> = {},
): Promise<string> {
  const s3 = testS3();
  const path = `${dir}/config.yml`;
  const doc = {
    access_key: s3.accessKey,
    secret_access_key: s3.secretKey,
    aws_region: s3.region,
    // Each daemon its own state store, so that tests never share one.
    state_dir: `${dir}/state`,
    ...global,
    sites: sites.map((site) => ({ endpoint: s3.endpoint, ...site })),
  };
  await Deno.writeTextFile(path, stringify(doc));
  return path;
}

/** Waits until `check` returns true; the deadline only bounds a wait that is failing anyway. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 250);
  }
}

/** Waits until the bucket holds exactly `expected`, in any order. */
export async function waitForKeys(
  bucket: string,
  expected: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const want = JSON.stringify([...expected].sort());
  await waitFor(
    `bucket keys ${want}`,
    async () => JSON.stringify(await sortedKeys(bucket)) === want,
    timeoutMs,
  );
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the daemon to completion (for --once, --dry-run, bad input). */
export interface RunOptions {
  readonly env?: Record<string, string>;
  /**
   * As a user would run it: root reads and writes anything, so root's capabilities to ignore file
   * modes are dropped and permissions apply.
   */
  readonly unprivileged?: boolean;
  /**
   * Runs it in a user namespace of its own whose inotify watch limit is this: the limit is per user
   * namespace, so a test can run out of watches without touching the machine's.
   */
  readonly inotifyWatches?: number;
  /**
   * Runs it in a user and mount namespace of its own, with private propagation: a test can mount
   * over its folders (`nsenter --target <pid> --user --mount`) without the machine seeing it. The
   * daemon is the namespace's first process, so `Daemon.pid` is the one to enter.
   */
  readonly mountNamespace?: boolean;
}

/** The daemon's command line, for `Deno.Command`. */
function daemonCommand(
  args: string[],
  { unprivileged, inotifyWatches, mountNamespace }: RunOptions,
): [string, string[]] {
  const deno = ["run", "--allow-all", MAIN, ...args];
  if (mountNamespace) {
    // Without --fork, unshare execs the daemon in place: the child's pid is the daemon's.
    const unshare = ["--user", "--map-root-user", "--mount", "--propagation", "private"];
    return ["unshare", [...unshare, Deno.execPath(), ...deno]];
  }
  if (inotifyWatches !== undefined) {
    const script = `echo ${inotifyWatches} > /proc/sys/user/max_inotify_watches && exec "$@"`;
    return ["unshare", [
      "--user",
      "--map-root-user",
      "sh",
      "-c",
      script,
      "sh",
      Deno.execPath(),
      ...deno,
    ]];
  }
  if (!unprivileged || Deno.uid() !== 0) return [Deno.execPath(), deno];
  const caps = "-dac_override,-dac_read_search";
  return ["setpriv", [`--inh-caps=${caps}`, `--bounding-set=${caps}`, Deno.execPath(), ...deno]];
}

export async function runDaemon(
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const [command, commandArgs] = daemonCommand(args, options);
  const out = await new Deno.Command(command, {
    args: commandArgs,
    env: options.env ?? {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** A daemon running in the background; its log is collected so tests can wait on a line. */
export class Daemon {
  readonly #child: Deno.ChildProcess;
  log = "";
  readonly #reading: Promise<void>;

  readonly pid: number;

  constructor(args: string[], options: RunOptions = {}) {
    const [command, commandArgs] = daemonCommand(args, options);
    this.#child = new Deno.Command(command, {
      args: commandArgs,
      env: options.env ?? {},
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    const decoder = new TextDecoder();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) this.log += decoder.decode(chunk, { stream: true });
    };
    this.#reading = Promise.all([collect(this.#child.stdout), collect(this.#child.stderr)]).then(
      () => {},
    );
  }

  async waitForLog(pattern: RegExp, timeoutMs = 30_000): Promise<void> {
    await waitFor(`a log line matching ${pattern}`, () => pattern.test(this.log), timeoutMs);
  }

  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** The exit code, once the daemon has exited by itself or after `signal()`. */
  async exited(): Promise<number> {
    const status = await this.#child.status;
    await this.#reading;
    return status.code;
  }

  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
    const status = await this.#child.status;
    await this.#reading;
    return status.code;
  }
}

/** Multipart uploads started and neither completed nor aborted: orphaned parts, if any remain. */
export async function pendingUploads(bucket: string): Promise<string[]> {
  const out = await testS3().client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (out.Uploads ?? []).map((upload) => upload.Key ?? "");
}

/** A TCP port nobody listens on right now, for a daemon's HTTP or metrics server. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Parses Prometheus text into `name{labels}` -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/**
 * Waits until a second has passed since the file's last change (its ctime, which Deno gives in
 * whole seconds): from then on a new change shows in the file's stamp.
 */
export async function pastTimestampGranule(path: string): Promise<void> {
  const changed = (await Deno.lstat(path)).ctime?.getTime() ?? Date.now();
  await waitFor("a second after the last change", () => Date.now() >= changed + 1_000);
}

/** As another tool would upload it: in parts of `partSize`, without our s3sync-md5 metadata. */
export async function uploadInParts(
  bucket: string,
  key: string,
  data: Uint8Array,
  partSize: number,
): Promise<void> {
  const client = testS3().client;
  const { UploadId } = await client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }),
  );
  const parts = [];
  for (let start = 0, n = 1; start < data.length; start += partSize, n++) {
    const body = data.subarray(start, Math.min(data.length, start + partSize));
    const { ETag } = await client.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: body }),
    );
    parts.push({ PartNumber: n, ETag });
  }
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: parts },
    }),
  );
}
