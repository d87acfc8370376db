/**
 * The resolved, frozen config that the rest of the code sees. What the user wrote (the YAML shape) lives
 * in `raw.ts`; `resolve.ts` turns one into the other, once, at start-up or reload.
 * @module
 */

import type { ProxySettings } from "../lib/proxy_env.ts";
import type { PathPattern } from "./regex.ts";
import type { CustomerKey } from "./encryption.ts";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "panic"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** Storage classes S3 accepts on PutObject; the first is the default. */
export const STORAGE_CLASSES = [
  "STANDARD",
  "REDUCED_REDUNDANCY",
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER",
  "DEEP_ARCHIVE",
  "GLACIER_IR",
  "OUTPOSTS",
  "SNOW",
  "EXPRESS_ONEZONE",
] as const;
export type StorageClass = typeof STORAGE_CLASSES[number];

/** The canned ACLs S3 accepts on an object (`x-amz-acl`). */
export const CANNED_ACLS = [
  "private",
  "public-read",
  "public-read-write",
  "authenticated-read",
  "aws-exec-read",
  "bucket-owner-read",
  "bucket-owner-full-control",
] as const;
export type CannedAcl = typeof CANNED_ACLS[number];

/** Server-side encryption S3 applies on request (`x-amz-server-side-encryption`). */
export const SSE_ALGORITHMS = ["AES256", "aws:kms", "aws:kms:dsse"] as const;
export type SseAlgorithm = typeof SSE_ALGORITHMS[number];

/** How the objects a site writes are encrypted: by S3's keys (or KMS's), or by our own (SSE-C). */
export type Encryption =
  | { readonly kind: "sse"; readonly algorithm: SseAlgorithm; readonly kmsKeyId?: string }
  | { readonly kind: "customer"; readonly key: CustomerKey };

/**
 * `follow_symlinks`: false skips links (the Go tool's way); true follows those whose target is
 * inside `local_path`; "any" follows them wherever they point.
 */
export type FollowSymlinks = boolean | "any";

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface SiteConfig {
  /** `name` as written, or `bucket/bucket_path` (just `bucket` when the path is empty). */
  readonly name: string;
  /** Absolute, normalised, without a trailing slash (except for "/"). */
  readonly localPath: string;
  /** Full URL with scheme (https when none was written); undefined means AWS itself. */
  readonly endpoint: string | undefined;
  readonly bucket: string;
  /** Without leading or trailing slashes; "" means the whole bucket. */
  readonly bucketPath: string;
  readonly bucketRegion: string;
  readonly retireDeleted: boolean;
  readonly storageClass: StorageClass;
  /**
   * Canned ACL sent with every object we write (PUT, multipart upload, copy); undefined sends
   * none, which is what buckets with ACLs disabled need. Objects already written keep theirs.
   */
  readonly acl?: CannedAcl;
  /**
   * Sent with every object we write, and for SSE-C with every request that reads one; undefined
   * sends none (the bucket's default applies). Objects already written keep theirs.
   */
  readonly encryption?: Encryption;
  /** Absent: false, links are skipped (see README, "Symbolic links"). */
  readonly followSymlinks?: FollowSymlinks;
  /** Uploads carry the file's mtime as rclone's `mtime` metadata (`store_mtime`). */
  readonly storeMtime: boolean;
  /** Site keys, else global keys, else undefined: the SDK's default chain decides. */
  readonly credentials: Credentials | undefined;
  readonly watchIntervalMs: number;
  readonly s3OpsRetries: number;
  /** Tested against the path relative to `localPath`, with "/" separators. Exclusions win. */
  readonly exclusions: readonly PathPattern[];
  readonly inclusions: readonly PathPattern[];
  /** Full reconcile period that heals what a missed event left behind; 0 disables. */
  readonly reconcileIntervalMs: number;
  /** A request with no byte moving either way for this long is aborted and retried. */
  readonly requestTimeoutMs: number;
  /** This site's uploads together, in bytes per second; 0 for no limit of its own. */
  readonly bandwidthLimit: number;
  /**
   * Certificate authorities trusted besides the public and system ones: the site's `ca_bundle`,
   * else the global one, else AWS_CA_BUNDLE. Absent: none.
   */
  readonly caBundle?: CaBundle;
  /** HTTPS_PROXY, HTTP_PROXY and NO_PROXY as read at load (the same for every site). Absent: none. */
  readonly proxy?: ProxySettings;
  /** The most one comparison may delete before the delete guard holds its deletes back. */
  readonly maxDelete: DeleteLimit;
}

/** `max_delete`: a count of objects, or a share (0-100) of the site's objects. */
export type DeleteLimit =
  | { readonly count: number; readonly percent?: undefined }
  | { readonly percent: number; readonly count?: undefined };

/** A `ca_bundle` file as read at load. */
export interface CaBundle {
  /** Absolute; for messages. */
  readonly path: string;
  /** Each certificate as its own PEM block. */
  readonly certificates: readonly string[];
}

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = typeof LOG_FORMATS[number];

export interface Config {
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** How long in-flight uploads may take to finish when stopping or reloading. */
  readonly shutdownTimeoutMs: number;
  /** Where the state store lives (absolute); losing it costs time, never correctness. */
  readonly stateDir: string;
  readonly uploadQueueBuffer: number;
  /** Uploads in flight across all sites, or "auto": per endpoint, as the link and server allow. */
  readonly uploadWorkers: number | "auto";
  /** All sites' uploads together, in bytes per second; 0 for no limit. */
  readonly bandwidthLimit: number;
  readonly checksumWorkers: number;
  readonly sites: readonly SiteConfig[];
}

/** Command-line flags; they are read once and never reloaded. */
export interface Flags {
  readonly config: string;
  readonly httpPort: number;
  readonly httpHost: string;
  readonly metricsPort: number;
  readonly metricsPath: string;
  readonly configmap: string | undefined;
  readonly once: boolean;
  readonly dryRun: boolean;
  /** Compare by content, ignoring the state store: alone it only reports; with `once` it repairs. */
  readonly verify: boolean;
  readonly version: boolean;
  readonly help: boolean;
}
