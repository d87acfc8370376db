/**
 * Resolves one entry of `sites` into a `SiteConfig`, filling each default from the global settings.
 * @module
 */

import { ConfigError, errorMessage } from "../lib/errors.ts";
import { normaliseRoot } from "../lib/local_paths.ts";
import {
  type CaBundle,
  type CannedAcl,
  type Credentials,
  type DeleteLimit,
  type FollowSymlinks,
  type SiteConfig,
  STORAGE_CLASSES,
  type StorageClass,
} from "./types.ts";
import type { ProxySettings } from "../lib/proxy_env.ts";
import { readCaBundle } from "./ca_bundle.ts";
import { readDeleteLimit } from "./delete_limit.ts";
import { type EncryptionLevel, readEncryptionLevel, siteEncryption } from "./encryption.ts";
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
  readStringList,
} from "./check.ts";
import { compileGoRegExp, type GoRegExp } from "./regex.ts";
import { readRate } from "./rate.ts";
import type { Mistakes } from "./collect.ts";
import type { RawSite } from "./raw.ts";
import {
  DEFAULT_INCLUSIONS,
  MAX_RECONCILE_INTERVAL_MS,
  MAX_REQUEST_TIMEOUT_MS,
  MAX_RETRIES,
  MAX_WATCH_INTERVAL_MS,
} from "./limits.ts";

/** The global settings a site falls back to. */
export interface SiteDefaults {
  readonly region: string;
  readonly credentials: Credentials | undefined;
  readonly watchIntervalMs: number;
  readonly s3OpsRetries: number;
  readonly reconcileIntervalMs: number;
  readonly requestTimeoutMs: number;
  readonly caBundle: CaBundle | undefined;
  readonly proxy: ProxySettings | undefined;
  readonly acl: CannedAcl | undefined;
  readonly storeMtime: boolean;
  readonly followSymlinks: FollowSymlinks;
  readonly maxDelete: DeleteLimit;
  readonly encryption: EncryptionLevel;
}

/**
 * Resolves `sites[index]`; pushes non-fatal remarks onto `warnings` and records each bad key in
 * `mistakes`, reading on. Undefined when the site had any mistake: its values would be defaults
 * standing in for what the user wrote, so the checks between sites must not see it.
 */
export function resolveSite(
  value: unknown,
  index: number,
  defaults: SiteDefaults,
  warnings: string[],
  mistakes: Mistakes,
): SiteConfig | undefined {
  const at = `sites[${index}]`;
  if (!isMapping(value)) {
    mistakes.add(new ConfigError(at, `must be a mapping, got ${describe(value)}`));
    return undefined;
  }
  const raw: RawSite = value;
  const f = (key: string) => `${at}.${key}`;
  const before = mistakes.count;
  const read = <T>(reader: () => T): T | undefined => mistakes.read(reader);

  const bucket = read(() => readBucket(raw.bucket, f("bucket"))) ?? "";
  const bucketPath = read(() => readBucketPath(raw.bucket_path, f("bucket_path"))) ?? "";
  const retireDeleted = read(() => readBool(raw.retire_deleted, f("retire_deleted"))) ?? false;
  const written = read(() => readPatterns(raw.inclusions, f("inclusions")));
  if (written?.length === 0 && retireDeleted) {
    // Nothing included means every object under the prefix is "excluded", and retire_deleted
    // deletes excluded objects: one start would empty the prefix.
    mistakes.add(
      new ConfigError(
        f("inclusions"),
        "an empty list with retire_deleted: true would delete every object under the prefix; " +
          "list what to sync, or leave inclusions out to sync everything",
      ),
    );
  } else if (written?.length === 0) {
    warnings.push(`${f("inclusions")}: empty list, no file will be synced`);
  }
  const endpoint = read(() => readEndpoint(raw.endpoint, f("endpoint")));
  const ownEncryption = readEncryptionLevel(raw, `${at}.`, defaults.encryption.env, mistakes);
  const site: SiteConfig = {
    name: read(() => readString(raw.name, f("name"))) ??
      (bucketPath ? `${bucket}/${bucketPath}` : bucket),
    localPath: read(() => readLocalPath(raw.local_path, f("local_path"))) ?? "",
    endpoint,
    bucket,
    bucketPath,
    bucketRegion: read(() => readString(raw.bucket_region, f("bucket_region"))) ??
      defaults.region,
    retireDeleted,
    storageClass: read(() => readStorageClass(raw.storage_class, f("storage_class"))) ??
      "STANDARD",
    acl: read(() => readAcl(raw.acl, f("acl"))) ?? defaults.acl,
    storeMtime: read(() => readBool(raw.store_mtime, f("store_mtime"))) ?? defaults.storeMtime,
    encryption: siteEncryption(ownEncryption, defaults.encryption, at, endpoint, mistakes),
    followSymlinks: read(() => readFollowSymlinks(raw.follow_symlinks, f("follow_symlinks"))) ??
      defaults.followSymlinks,
    credentials: read(() => readCredentials(raw, `${at}.`)) ?? defaults.credentials,
    watchIntervalMs:
      read(() =>
        readDuration(raw.watch_interval, f("watch_interval"), MAX_WATCH_INTERVAL_MS, false)
      ) ?? defaults.watchIntervalMs,
    s3OpsRetries: read(() => readInt(raw.s3_ops_retries, f("s3_ops_retries"), 1, MAX_RETRIES)) ??
      defaults.s3OpsRetries,
    exclusions: compileAll(
      read(() => readPatterns(raw.exclusions, f("exclusions"))) ?? [],
      f("exclusions"),
      mistakes,
    ),
    inclusions: compileAll(written ?? DEFAULT_INCLUSIONS, f("inclusions"), mistakes),
    reconcileIntervalMs: read(() =>
      readDuration(
        raw.reconcile_interval,
        f("reconcile_interval"),
        MAX_RECONCILE_INTERVAL_MS,
        true,
      )
    ) ?? defaults.reconcileIntervalMs,
    requestTimeoutMs:
      read(() =>
        readDuration(raw.request_timeout, f("request_timeout"), MAX_REQUEST_TIMEOUT_MS, false)
      ) ?? defaults.requestTimeoutMs,
    // Not inherited: the global value caps all sites together, not each one.
    bandwidthLimit: read(() => readRate(raw.bandwidth_limit, f("bandwidth_limit"))) ?? 0,
    // The site's own bundle replaces the global one, as every per-site key does; the public and
    // system roots are trusted either way.
    caBundle: read(() => readCaBundle(raw.ca_bundle, f("ca_bundle"))) ?? defaults.caBundle,
    proxy: defaults.proxy,
    maxDelete: read(() => readDeleteLimit(raw.max_delete, f("max_delete"))) ?? defaults.maxDelete,
  };
  return mistakes.count === before ? site : undefined;
}

/** Compiles each pattern, recording each bad one under its index. */
function compileAll(patterns: readonly string[], field: string, mistakes: Mistakes): GoRegExp[] {
  return patterns.flatMap((p, i) => mistakes.read(() => compile(p, `${field}[${i}]`)) ?? []);
}

function readLocalPath(value: unknown, field: string): string {
  const text = readString(value, field);
  if (text === undefined) throw new ConfigError(field, "required (the folder to sync)");
  try {
    return normaliseRoot(text);
  } catch (err) {
    throw new ConfigError(field, `${errorMessage(err)}, got ${describe(text)}`);
  }
}

function readBucket(value: unknown, field: string): string {
  const text = readString(value, field);
  if (text === undefined) throw new ConfigError(field, "required (the bucket to sync to)");
  if (text.includes("/")) {
    throw new ConfigError(
      field,
      `must be a bucket name without "/", got ${describe(text)} (put the prefix in bucket_path)`,
    );
  }
  return text;
}

function readBucketPath(value: unknown, field: string): string {
  const text = readString(value, field) ?? "";
  const trimmed = text.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "";
  const segments = trimmed.split("/");
  // Keys with such segments would not map back to the same local file, so scans would never agree.
  if (segments.includes("")) {
    throw new ConfigError(field, `must not contain empty segments ("//"), got ${describe(text)}`);
  }
  if (segments.some((s) => s === "." || s === "..")) {
    throw new ConfigError(field, `must not contain "." or ".." segments, got ${describe(text)}`);
  }
  return trimmed;
}

function readEndpoint(value: unknown, field: string): string | undefined {
  const text = readString(value, field)?.trim();
  if (!text) return undefined;
  const rule = `must be a host name or an http(s) URL, got ${describe(text)}`;
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
  let url: URL;
  try {
    url = new URL(hasScheme ? text : `https://${text}`);
  } catch {
    throw new ConfigError(field, rule);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(field, `must use http or https, got ${describe(text)}`);
  }
  // The URL would end up in logs and /info; keys belong in access_key/secret_access_key.
  if (url.username || url.password) {
    throw new ConfigError(
      field,
      "must not contain credentials (use access_key and secret_access_key)",
    );
  }
  if (url.search || url.hash) throw new ConfigError(field, rule);
  return url.href.replace(/\/+$/, "");
}

function readStorageClass(value: unknown, field: string): StorageClass {
  const text = readString(value, field);
  if (text === undefined) return "STANDARD";
  const found = STORAGE_CLASSES.find((c) => c === text.toUpperCase());
  if (found) return found;
  const valid = STORAGE_CLASSES.map((c) => `"${c}"`).join(", ");
  throw new ConfigError(field, `must be one of ${valid}, got ${describe(text)}`);
}

function readPatterns(value: unknown, field: string): readonly string[] | undefined {
  if (value !== undefined && value !== null && !Array.isArray(value)) {
    throw new ConfigError(field, `must be a list of regular expressions, got ${describe(value)}`);
  }
  return readStringList(value, field);
}

function compile(pattern: string, field: string): GoRegExp {
  try {
    return compileGoRegExp(pattern);
  } catch (err) {
    throw new ConfigError(
      field,
      `invalid regular expression ${describe(pattern)}: ${(err as Error).message}`,
    );
  }
}
