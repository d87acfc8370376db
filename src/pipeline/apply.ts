/**
 * The upload stage: carries out one action (upload, storage-class copy, delete) and keeps the
 * site's picture of the bucket up to date. It re-checks the disk right before acting, so a delete
 * never runs for a file that came back, and reports whether the path must be looked at again
 * (the file changed while it was being uploaded).
 * @module
 */

import { log, print } from "../lib/log.ts";
import { statFile } from "./check.ts";
import type { Action, SiteContext } from "./context.ts";
import { changeStorageClass, FileChangedError, uploadFile } from "./transfer.ts";

export interface ApplyResult {
  /** Look at the path again: it changed meanwhile. */
  readonly again: boolean;
}

const DONE: ApplyResult = { again: false };
const AGAIN: ApplyResult = { again: true };

export async function apply(
  ctx: SiteContext,
  action: Action,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  switch (action.kind) {
    case "upload":
      return await applyUpload(ctx, action.rel, action.md5, signal);
    case "copy":
      return await applyCopy(ctx, action.rel, action.size, signal);
    case "delete":
      return await applyDelete(ctx, action.rel, signal);
  }
}

async function applyUpload(
  ctx: SiteContext,
  rel: string,
  md5: string | undefined,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  const path = ctx.localPath(rel);
  const key = ctx.keyOf(rel);
  const before = await statFile(path);
  if (!before) return AGAIN; // gone since it was checked: the next look decides
  if (ctx.dryRun) {
    print(`would upload ${JSON.stringify(key)} (${before.size} bytes)`);
    return DONE;
  }
  const started = performance.now();
  const storageClass = ctx.config.storageClass;
  let etag: string;
  try {
    ({ etag } = await uploadFile(
      ctx.store,
      { key, path, size: before.size, storageClass, md5 },
      signal,
    ));
  } catch (err) {
    if (err instanceof FileChangedError) return AGAIN;
    throw err;
  }
  ctx.remote.set(rel, { key, size: before.size, etag, storageClass });
  ctx.stats.uploaded++;
  ctx.stats.bytesUploaded += before.size;
  ctx.stats.lastSyncAt = new Date();
  const ms = performance.now() - started;
  ctx.observeUpload(ms / 1000);
  log.info("uploaded", { site: ctx.config.name, key, size: before.size, ms: Math.round(ms) });
  const after = await statFile(path);
  const changed = !after || after.size !== before.size || after.mtimeMs !== before.mtimeMs;
  return changed ? AGAIN : DONE;
}

async function applyCopy(
  ctx: SiteContext,
  rel: string,
  size: number,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  const key = ctx.keyOf(rel);
  const storageClass = ctx.config.storageClass;
  if (ctx.dryRun) {
    print(`would change the storage class of ${JSON.stringify(key)} to ${storageClass}`);
    return DONE;
  }
  const started = performance.now();
  const { etag } = await changeStorageClass(ctx.store, key, size, storageClass, signal);
  const previous = ctx.remote.get(rel);
  ctx.remote.set(rel, { key, size, etag: etag || previous?.etag || "", storageClass });
  ctx.stats.copied++;
  ctx.stats.lastSyncAt = new Date();
  log.info("changed storage class", {
    site: ctx.config.name,
    key,
    size,
    class: storageClass,
    ms: Math.round(performance.now() - started),
  });
  return DONE;
}

async function applyDelete(
  ctx: SiteContext,
  rel: string,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  const key = ctx.keyOf(rel);
  // Both checks again, right before the delete: the folder may have been unmounted, or the file
  // may have come back, since the job was queued.
  if (!await ctx.rootIsPresent()) return DONE;
  if (ctx.isIncluded(rel) && await statFile(ctx.localPath(rel))) return AGAIN;
  if (ctx.dryRun) {
    print(`would delete ${JSON.stringify(key)}`);
    return DONE;
  }
  const started = performance.now();
  await ctx.store.delete(key, signal);
  const size = ctx.remote.get(rel)?.size;
  ctx.remote.delete(rel);
  ctx.stats.deleted++;
  ctx.stats.lastSyncAt = new Date();
  log.info("deleted", {
    site: ctx.config.name,
    key,
    size,
    ms: Math.round(performance.now() - started),
  });
  return DONE;
}
