/**
 * The tools under comparison and their exact command lines: our daemon (`--once` for batch
 * scenarios, watching for real-time ones) and the peers people would use instead (aws s3 sync,
 * rclone sync, s3cmd sync), each configured for the local endpoint in files under the bench's temp
 * folder. Ours runs with its defaults; each peer with a concurrency setting runs at its default and
 * at higher ones (its own rows, named "xN"), so that the report's best peer is each peer at its best.
 * @module
 */

import { stringify } from "yaml";
import type { S3Env } from "../s3env.ts";
import { runTimed } from "./proc.ts";

/** The in-process floor's PutObject loop: the old default, a fixed point to read the others by. */
export const UPLOAD_WORKERS = 10;
/** Concurrencies the peers also run at, beside their defaults (aws 10, rclone 4). */
const PEER_CONCURRENCY = { aws: [64], rclone: [16, 64] };
const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const AWS = "/usr/bin/aws";

export interface Invocation {
  readonly cmd: string[];
  readonly env: Record<string, string>;
  readonly unsetEnv: string[];
}

export interface Tool {
  readonly name: string;
  readonly kind: "ours" | "peer";
  /** One sync of `dir` into the whole bucket, run to completion. */
  sync(dir: string, bucket: string): Promise<Invocation>;
  /** How this tool decides a same-size file changed, for the report. */
  readonly detects: string;
}

/** Variables of the bench's own environment that would change a child's behaviour. */
const FOREIGN_ENV = [
  "AWS_CA_BUNDLE", // rclone 1.60 fails when it is set; irrelevant over http for the others
  "AWS_PROFILE",
  "AWS_DEFAULT_PROFILE",
  "AWS_SESSION_TOKEN",
  "AWS_ENDPOINT_URL",
];

export function quote(args: readonly string[]): string {
  return args.map((a) => /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)
    .join(" ");
}

/** A printable line: the environment it sets (secrets masked) and the command. */
export function describe(inv: Invocation): string {
  const env = Object.entries(inv.env).map(([k, v]) =>
    `${k}=${/SECRET|ACCESS_KEY/.test(k) ? "***" : v}`
  );
  const present = inv.unsetEnv.filter((name) => Deno.env.has(name));
  const unset = present.length ? `env ${present.map((n) => `-u ${n}`).join(" ")} ` : "";
  return `${unset}${env.length ? env.join(" ") + " " : ""}${quote(inv.cmd)}`;
}

export interface DaemonConfigOptions {
  readonly watchInterval?: string;
  readonly loglevel?: string;
  /** The state store's folder; without it the daemon's default (shared by every config). */
  readonly stateDir?: string;
  /** `bandwidth_limit`, as written in YAML. */
  readonly bandwidthLimit?: string;
}

/** Our config for one site: `dir` -> the whole `bucket`, on the bench's server. */
export async function writeDaemonConfig(
  s3: S3Env,
  path: string,
  dir: string,
  bucket: string,
  opts: DaemonConfigOptions = {},
): Promise<string> {
  const doc = {
    access_key: s3.accessKey,
    secret_access_key: s3.secretKey,
    aws_region: s3.region,
    loglevel: opts.loglevel ?? "info",
    watch_interval: opts.watchInterval ?? "1s",
    ...(opts.stateDir ? { state_dir: opts.stateDir } : {}),
    ...(opts.bandwidthLimit ? { bandwidth_limit: opts.bandwidthLimit } : {}),
    sites: [{ name: "bench", local_path: dir, bucket, endpoint: s3.endpoint }],
  };
  await Deno.writeTextFile(path, stringify(doc));
  return path;
}

export function daemonOnce(config: string): string[] {
  return [Deno.execPath(), "run", "--allow-all", MAIN, "--config", config, "--once"];
}

/** The daemon watching; `httpPort` 0 (the default) leaves /info off, else it listens on loopback. */
export function daemonWatching(config: string, httpPort = 0): string[] {
  return [
    Deno.execPath(),
    "run",
    "--allow-all",
    MAIN,
    "--config",
    config,
    ...(httpPort ? ["--http-host", "127.0.0.1"] : []),
    "--http-port",
    String(httpPort),
    "--metrics-port",
    "0",
  ];
}

/** `--once` with `config`, in the environment every tool gets. */
export function oursOnce(config: string): Invocation {
  return { cmd: daemonOnce(config), env: {}, unsetEnv: FOREIGN_ENV };
}

export function ours(s3: S3Env, tmp: string): Tool {
  let n = 0;
  return {
    name: "s3sync-service",
    kind: "ours",
    detects: "size, then MD5 vs ETag for same-size files",
    async sync(dir, bucket) {
      return oursOnce(await writeDaemonConfig(s3, `${tmp}/ours-${++n}.yml`, dir, bucket));
    },
  };
}

async function awsTool(s3: S3Env, tmp: string, concurrency?: number): Promise<Tool> {
  const suffix = concurrency ? `-x${concurrency}` : "";
  const env = {
    AWS_CONFIG_FILE: `${tmp}/aws-config${suffix}`,
    AWS_SHARED_CREDENTIALS_FILE: `${tmp}/aws-credentials${suffix}`,
    AWS_ACCESS_KEY_ID: s3.accessKey,
    AWS_SECRET_ACCESS_KEY: s3.secretKey,
    AWS_DEFAULT_REGION: s3.region,
    AWS_EC2_METADATA_DISABLED: "true",
  };
  await Deno.writeTextFile(env.AWS_CONFIG_FILE, "");
  await Deno.writeTextFile(env.AWS_SHARED_CREDENTIALS_FILE, "");
  for (
    const [key, value] of [
      ["default.region", s3.region],
      ...(concurrency ? [["default.s3.max_concurrent_requests", String(concurrency)]] : []),
      ["default.s3.addressing_style", "path"],
    ]
  ) {
    const out = await runTimed([AWS, "configure", "set", key!, value!], {
      env,
      unsetEnv: FOREIGN_ENV,
      timeoutMs: 60_000,
    });
    if (out.code !== 0) throw new Error(`aws configure set ${key} failed: ${out.tail}`);
  }
  return {
    name: concurrency ? `aws s3 sync x${concurrency}` : "aws s3 sync",
    kind: "peer",
    detects: "size + mtime newer than LastModified",
    sync: (dir, bucket) =>
      Promise.resolve({
        cmd: [
          AWS,
          "--endpoint-url",
          s3.endpoint,
          "s3",
          "sync",
          dir,
          `s3://${bucket}`,
          "--no-progress",
        ],
        env,
        unsetEnv: FOREIGN_ENV,
      }),
  };
}

async function rcloneTool(s3: S3Env, tmp: string, transfers?: number): Promise<Tool> {
  const config = `${tmp}/rclone.conf`;
  await Deno.writeTextFile(config, "");
  const env = {
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Ceph",
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: s3.accessKey,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: s3.secretKey,
    RCLONE_CONFIG_BENCH_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_BENCH_REGION: s3.region,
    RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: "true",
  };
  return {
    name: transfers ? `rclone sync x${transfers}` : "rclone sync",
    kind: "peer",
    detects: "size + modtime (X-Amz-Meta-Mtime)",
    sync: (dir, bucket) =>
      Promise.resolve({
        cmd: [
          "rclone",
          "--config",
          config,
          "sync",
          dir,
          `bench:${bucket}`,
          ...(transfers ? ["--transfers", String(transfers)] : []),
        ],
        env,
        unsetEnv: FOREIGN_ENV,
      }),
  };
}

async function s3cmdTool(s3: S3Env, tmp: string): Promise<Tool> {
  const host = new URL(s3.endpoint).host;
  const config = `${tmp}/s3cfg`;
  await Deno.writeTextFile(
    config,
    [
      "[default]",
      `access_key = ${s3.accessKey}`,
      `secret_key = ${s3.secretKey}`,
      `host_base = ${host}`,
      `host_bucket = ${host}`,
      `bucket_location = ${s3.region}`,
      `use_https = ${new URL(s3.endpoint).protocol === "https:" ? "True" : "False"}`,
      "signature_v2 = False",
      "",
    ].join("\n"),
  );
  return {
    name: "s3cmd sync",
    kind: "peer",
    detects: "size + MD5 (no parallelism)",
    sync: (dir, bucket) =>
      Promise.resolve({
        cmd: ["s3cmd", "-c", config, "sync", `${dir}/`, `s3://${bucket}/`, "--no-progress"],
        env: {},
        unsetEnv: FOREIGN_ENV,
      }),
  };
}

async function have(cmd: string): Promise<boolean> {
  const out = await new Deno.Command("bash", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
    .output();
  return out.success;
}

/** Installs the peers from Debian's packages when missing (root only). */
export async function ensurePeers(): Promise<void> {
  const missing: string[] = [];
  if (!(await have(AWS))) missing.push("awscli");
  if (!(await have("rclone"))) missing.push("rclone");
  if (!(await have("s3cmd"))) missing.push("s3cmd");
  if (missing.length === 0) return;
  if (Deno.uid() !== 0) {
    throw new Error(`Missing peers; as root run: apt-get install -y ${missing.join(" ")}`);
  }
  const out = await new Deno.Command("apt-get", {
    args: ["install", "-y", "-q", ...missing],
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`apt-get install ${missing.join(" ")} failed`);
}

export async function allTools(s3: S3Env, tmp: string): Promise<Tool[]> {
  return [
    ours(s3, tmp),
    await awsTool(s3, tmp),
    ...(await Promise.all(PEER_CONCURRENCY.aws.map((n) => awsTool(s3, tmp, n)))),
    await rcloneTool(s3, tmp),
    ...(await Promise.all(PEER_CONCURRENCY.rclone.map((n) => rcloneTool(s3, tmp, n)))),
    await s3cmdTool(s3, tmp),
  ];
}
