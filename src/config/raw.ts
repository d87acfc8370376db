/**
 * The config as the user writes it in YAML, before any checking. Keys keep the Go tool's spelling
 * so existing config files keep working. Every field is `unknown`: YAML can hold anything, and
 * `resolve.ts` is the one place that decides what is acceptable.
 * @module
 */

/**
 * Keys a site may set for itself, over the global value of the same name: one list, so that a key
 * added to one place cannot be forgotten in the other.
 */
const OVERRIDE_KEYS = [
  "access_key",
  "secret_access_key",
  "watch_interval",
  "s3_ops_retries",
  "reconcile_interval",
  "request_timeout",
  "bandwidth_limit",
  "ca_bundle",
  "acl",
  "sse",
  "sse_kms_key_id",
  "sse_c_key_file",
  "sse_c_key_env",
  "sse_c_allow_http",
  "follow_symlinks",
  "max_delete",
  "store_mtime",
] as const;

type RawOverrides = { [key in typeof OVERRIDE_KEYS[number]]?: unknown };

/** Top-level mapping of the config file. */
export interface RawConfig extends RawOverrides {
  aws_region?: unknown;
  loglevel?: unknown;
  upload_queue_buffer?: unknown;
  upload_workers?: unknown;
  checksum_workers?: unknown;
  log_format?: unknown;
  shutdown_timeout?: unknown;
  state_dir?: unknown;
  sites?: unknown;
  [key: string]: unknown;
}

/** One entry of `sites`. */
export interface RawSite extends RawOverrides {
  name?: unknown;
  local_path?: unknown;
  endpoint?: unknown;
  bucket?: unknown;
  bucket_path?: unknown;
  bucket_region?: unknown;
  retire_deleted?: unknown;
  storage_class?: unknown;
  exclusions?: unknown;
  inclusions?: unknown;
  [key: string]: unknown;
}

/** Keys accepted at the top level; anything else gets an "unknown key" warning. */
export const GLOBAL_KEYS: readonly string[] = [
  "aws_region",
  "loglevel",
  "upload_queue_buffer",
  "upload_workers",
  "checksum_workers",
  "log_format",
  "shutdown_timeout",
  "state_dir",
  ...OVERRIDE_KEYS,
  "sites",
];

/** Keys accepted in each site; anything else gets an "unknown key" warning. */
export const SITE_KEYS: readonly string[] = [
  "name",
  "local_path",
  "endpoint",
  "bucket",
  "bucket_path",
  "bucket_region",
  "retire_deleted",
  "storage_class",
  "exclusions",
  "inclusions",
  ...OVERRIDE_KEYS,
];

/** Keys whose values are never echoed in a message, whatever their type. */
export const SECRET_KEYS: readonly string[] = ["access_key", "secret_access_key"];
