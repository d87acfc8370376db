/**
 * Turns the parsed YAML (`unknown`) into the frozen `Config` the rest of the code sees, or throws
 * one `ConfigError` naming the field and the rule of every mistake. Pure: the environment and CPU
 * count come in as arguments, so a reload and a test resolve the same way.
 * @module
 */

import { posix, win32 } from "node:path";
import { ConfigError, errorMessage } from "../lib/errors.ts";
import { normaliseRoot } from "../lib/local_paths.ts";
import {
  type Config,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  type SiteConfig,
} from "./types.ts";
import { GLOBAL_KEYS, type RawConfig, SITE_KEYS } from "./raw.ts";
import {
  describe,
  isMapping,
  readAcl,
  readBool,
  readCredentials,
  readDuration,
  readFollowSymlinks,
  readInt,
  readString,
} from "./check.ts";
import { resolveSite, type SiteDefaults } from "./site.ts";
import { checkSites } from "./overlap.ts";
import { Mistakes } from "./collect.ts";
import { unknownKeyWarnings } from "./unknown.ts";
import { readRate } from "./rate.ts";
import { readCaBundle } from "./ca_bundle.ts";
import { readEncryptionLevel } from "./encryption.ts";
import { DEFAULT_MAX_DELETE, readDeleteLimit } from "./delete_limit.ts";
import { type ProxySettings, readProxyEnv } from "../lib/proxy_env.ts";
import {
  DEFAULT_RECONCILE_INTERVAL_MS,
  DEFAULT_REGION,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_S3_OPS_RETRIES,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_WATCH_INTERVAL_MS,
  K8S_CHECKSUM_WORKERS,
  MAX_RECONCILE_INTERVAL_MS,
  MAX_REQUEST_TIMEOUT_MS,
  MAX_RETRIES,
  MAX_SHUTDOWN_TIMEOUT_MS,
  MAX_UPLOAD_QUEUE_BUFFER,
  MAX_WATCH_INTERVAL_MS,
  MAX_WORKERS,
} from "./limits.ts";

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Resolves a parsed config document; `warnings` lists what was accepted but looks wrong. Every
 * key is checked, so the `ConfigError` thrown reports every mistake at once: each key's, in
 * document order, then those between sites, which are only checked among sites without one.
 */
export function resolveConfig(
  document: unknown,
  env: Env,
  cpuCount: number,
): { config: Config; warnings: string[] } {
  const raw = asMapping(document);
  const warnings = unknownKeyWarnings(raw, GLOBAL_KEYS, "");
  const mistakes = new Mistakes();
  const read = <T>(reader: () => T): T | undefined => mistakes.read(reader);

  const defaults: SiteDefaults = {
    region: read(() => readString(raw.aws_region, "aws_region")) ??
      (env.AWS_REGION || undefined) ?? (env.AWS_DEFAULT_REGION || undefined) ?? DEFAULT_REGION,
    credentials: read(() => readCredentials(raw, "")),
    watchIntervalMs:
      read(() =>
        readDuration(raw.watch_interval, "watch_interval", MAX_WATCH_INTERVAL_MS, false)
      ) ??
        DEFAULT_WATCH_INTERVAL_MS,
    s3OpsRetries: read(() => readInt(raw.s3_ops_retries, "s3_ops_retries", 1, MAX_RETRIES)) ??
      DEFAULT_S3_OPS_RETRIES,
    reconcileIntervalMs:
      read(() =>
        readDuration(raw.reconcile_interval, "reconcile_interval", MAX_RECONCILE_INTERVAL_MS, true)
      ) ?? DEFAULT_RECONCILE_INTERVAL_MS,
    requestTimeoutMs:
      read(() =>
        readDuration(raw.request_timeout, "request_timeout", MAX_REQUEST_TIMEOUT_MS, false)
      ) ?? DEFAULT_REQUEST_TIMEOUT_MS,
    // The config's key first, the variable when it has none, as aws_region and AWS_REGION; one
    // read, so that a bad key does not fall through to the variable.
    caBundle: read(() =>
      readCaBundle(raw.ca_bundle, "ca_bundle") ??
        readCaBundle(env.AWS_CA_BUNDLE, "AWS_CA_BUNDLE")
    ),
    proxy: read(() => readProxies(env)),
    acl: read(() => readAcl(raw.acl, "acl")),
    storeMtime: read(() => readBool(raw.store_mtime, "store_mtime")) ?? true,
    followSymlinks: read(() => readFollowSymlinks(raw.follow_symlinks, "follow_symlinks")) ??
      false,
    maxDelete: read(() => readDeleteLimit(raw.max_delete, "max_delete")) ?? DEFAULT_MAX_DELETE,
    encryption: readEncryptionLevel(raw, "", env, mistakes),
  };
  const logLevel = read(() => readLogLevel(raw.loglevel)) ?? "info";
  const logFormat = read(() => readLogFormat(raw.log_format)) ?? "text";
  const shutdownTimeoutMs =
    read(() =>
      readDuration(raw.shutdown_timeout, "shutdown_timeout", MAX_SHUTDOWN_TIMEOUT_MS, true)
    ) ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const uploadQueueBuffer =
    read(() =>
      readInt(raw.upload_queue_buffer, "upload_queue_buffer", 0, MAX_UPLOAD_QUEUE_BUFFER)
    ) ?? 0;
  const uploadWorkers = read(() => readUploadWorkers(raw.upload_workers)) ?? "auto";
  const checksumWorkers =
    read(() => readInt(raw.checksum_workers, "checksum_workers", 1, MAX_WORKERS)) ??
      defaultChecksumWorkers(env, cpuCount);
  const stateDir = read(() => readStateDir(raw.state_dir, env)) ?? "";
  const bandwidthLimit = read(() => readRate(raw.bandwidth_limit, "bandwidth_limit")) ?? 0;

  let resolved: (SiteConfig | undefined)[] = [];
  if (!Array.isArray(raw.sites) || raw.sites.length === 0) {
    const got = raw.sites === undefined ? "" : `, got ${describe(raw.sites)}`;
    mistakes.add(new ConfigError("sites", `must be a non-empty list of sites${got}`));
  } else {
    resolved = raw.sites.map((site: unknown, i) => {
      if (isMapping(site)) warnings.push(...unknownKeyWarnings(site, SITE_KEYS, `sites[${i}].`));
      return resolveSite(site, i, defaults, warnings, mistakes);
    });
  }
  mistakes.sortBy(raw);
  for (const err of checkSites(resolved)) mistakes.add(err);
  mistakes.throwIfAny();

  const config: Config = {
    logLevel,
    logFormat,
    shutdownTimeoutMs,
    stateDir,
    uploadQueueBuffer,
    uploadWorkers,
    bandwidthLimit,
    checksumWorkers,
    // No mistake was found, so every site resolved.
    sites: resolved.filter((site) => site !== undefined),
  };
  return { config: deepFreeze(config), warnings };
}

/** The proxy variables, when any names a proxy; a bad one is a `ConfigError` naming it. */
function readProxies(env: Env): ProxySettings | undefined {
  const proxy = readProxyEnv(env);
  return proxy.httpsProxy || proxy.httpProxy ? proxy : undefined;
}

function asMapping(document: unknown): RawConfig {
  if (document === undefined || document === null) {
    throw new ConfigError("", 'the config is empty: it must be a mapping with at least "sites"');
  }
  if (!isMapping(document)) {
    // Only the kind: a scalar document may be some other file (a key file) passed by mistake.
    const kind = Array.isArray(document) ? "a list" : `a ${typeof document}`;
    throw new ConfigError("", `the config must be a mapping of settings, got ${kind}`);
  }
  return document;
}

/**
 * A number keeps the Go tool's meaning (that many uploads in flight, all sites together); "auto",
 * the default, lets each endpoint find its own.
 */
function readUploadWorkers(value: unknown): number | "auto" {
  if (value === undefined || value === null) return "auto";
  if (typeof value === "string" && value.trim().toLowerCase() === "auto") return "auto";
  if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_WORKERS) {
    return value;
  }
  throw new ConfigError(
    "upload_workers",
    `must be "auto" or an integer from 1 to ${MAX_WORKERS}, got ${describe(value)}`,
  );
}

function readLogLevel(value: unknown): LogLevel {
  const text = readString(value, "loglevel");
  if (text === undefined) return "info";
  const level = LOG_LEVELS.find((l) => l === text.toLowerCase());
  if (level) return level;
  const valid = LOG_LEVELS.map((l) => `"${l}"`).join(", ");
  throw new ConfigError("loglevel", `must be one of ${valid}, got ${describe(text)}`);
}

/**
 * The config's `state_dir`, else S3SYNC_STATE_DIR (what the container and chart set), else systemd's
 * STATE_DIRECTORY, else the XDG state folder of the user.
 */
function readStateDir(value: unknown, env: Env): string {
  const written = readString(value, "state_dir");
  if (written !== undefined) {
    try {
      return normaliseRoot(written);
    } catch (err) {
      throw new ConfigError("state_dir", `${errorMessage(err)}, got ${describe(written)}`);
    }
  }
  const fromEnv = env.S3SYNC_STATE_DIR || env.STATE_DIRECTORY?.split(":")[0];
  if (fromEnv) {
    try {
      return normaliseRoot(fromEnv);
    } catch {
      // Not absolute for this system: passed over, as if unset.
    }
  }
  return defaultStateDir(env);
}

/** Where each system keeps a service's state when nothing says otherwise. */
export function defaultStateDir(env: Env, os: string = Deno.build.os): string {
  const home = env.HOME && posix.isAbsolute(env.HOME) ? env.HOME : undefined;
  if (os === "windows") {
    const local = env.LOCALAPPDATA || env.ProgramData || "C:\\ProgramData";
    return win32.join(local, "s3sync-service");
  }
  if (os === "darwin") {
    return posix.join(home ?? "/", "Library/Application Support/s3sync-service");
  }
  if (env.XDG_STATE_HOME && posix.isAbsolute(env.XDG_STATE_HOME)) {
    return posix.join(env.XDG_STATE_HOME, "s3sync-service");
  }
  if (home) return posix.join(home, ".local/state/s3sync-service");
  return "/var/lib/s3sync-service";
}

function readLogFormat(value: unknown): LogFormat {
  const text = readString(value, "log_format");
  if (text === undefined) return "text";
  const format = LOG_FORMATS.find((f) => f === text.toLowerCase());
  if (format) return format;
  throw new ConfigError("log_format", `must be "text" or "json", got ${describe(text)}`);
}

function defaultChecksumWorkers(env: Env, cpuCount: number): number {
  // As the Go tool: in a pod the CPU count is the node's, so a fixed small number avoids
  // throttling.
  if (env.KUBERNETES_SERVICE_HOST) return K8S_CHECKSUM_WORKERS;
  return Math.min(MAX_WORKERS, Math.max(1, Math.floor(cpuCount) * 2));
}

/** Freezes objects and arrays all the way down; RegExps too, safe as none has the g flag. */
function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
