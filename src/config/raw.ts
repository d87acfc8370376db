/**
 * The config as the user writes it in YAML, before any checking. Keys keep the Go tool's spelling
 * so existing config files keep working. Every field is `unknown`: YAML can hold anything, and
 * `resolve.ts` is the one place that decides what is acceptable.
 * @module
 */

/** Top-level mapping of the config file. */
export interface RawConfig {
  access_key?: unknown;
  secret_access_key?: unknown;
  aws_region?: unknown;
  loglevel?: unknown;
  upload_queue_buffer?: unknown;
  upload_workers?: unknown;
  checksum_workers?: unknown;
  watch_interval?: unknown;
  s3_ops_retries?: unknown;
  reconcile_interval?: unknown;
  log_format?: unknown;
  shutdown_timeout?: unknown;
  state_dir?: unknown;
  request_timeout?: unknown;
  bandwidth_limit?: unknown;
  ca_bundle?: unknown;
  acl?: unknown;
  sse?: unknown;
  sse_kms_key_id?: unknown;
  sse_c_key_file?: unknown;
  sse_c_key_env?: unknown;
  sse_c_allow_http?: unknown;
  follow_symlinks?: unknown;
  max_delete?: unknown;
  store_mtime?: unknown;
  sites?: unknown;
  [key: string]: unknown;
}

/** One entry of `sites`. */
export interface RawSite {
  name?: unknown;
  local_path?: unknown;
  endpoint?: unknown;
  bucket?: unknown;
  bucket_path?: unknown;
  bucket_region?: unknown;
  retire_deleted?: unknown;
  storage_class?: unknown;
  access_key?: unknown;
  secret_access_key?: unknown;
  watch_interval?: unknown;
  s3_ops_retries?: unknown;
  reconcile_interval?: unknown;
  exclusions?: unknown;
  inclusions?: unknown;
  request_timeout?: unknown;
  bandwidth_limit?: unknown;
  ca_bundle?: unknown;
  acl?: unknown;
  sse?: unknown;
  sse_kms_key_id?: unknown;
  sse_c_key_file?: unknown;
  sse_c_key_env?: unknown;
  sse_c_allow_http?: unknown;
  follow_symlinks?: unknown;
  max_delete?: unknown;
  store_mtime?: unknown;
  [key: string]: unknown;
}

/** Keys accepted at the top level; anything else gets an "unknown key" warning. */
export const GLOBAL_KEYS: readonly string[] = [
  "access_key",
  "secret_access_key",
  "aws_region",
  "loglevel",
  "upload_queue_buffer",
  "upload_workers",
  "checksum_workers",
  "watch_interval",
  "s3_ops_retries",
  "reconcile_interval",
  "log_format",
  "shutdown_timeout",
  "state_dir",
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
  "access_key",
  "secret_access_key",
  "watch_interval",
  "s3_ops_retries",
  "reconcile_interval",
  "exclusions",
  "inclusions",
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
];

/** Keys whose values are never echoed in a message, whatever their type. */
export const SECRET_KEYS: readonly string[] = ["access_key", "secret_access_key"];
