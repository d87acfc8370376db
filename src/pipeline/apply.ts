/**
 * The upload stage: carries out one action (upload, copy within the bucket, delete) and keeps the
 * site's picture of the bucket and its state store up to date. It re-checks the disk right before
 * acting, so a delete never runs for a file that came back, and reports whether the path must be
 * looked at again (the file changed while it was being uploaded).
 * @module
 */

import { log, print } from "../lib/log.ts";
import { S3Error } from "../store/s3.ts";
import { type LocalFile, statFile } from "./check.ts";
import type { Action, SiteContext } from "./context.ts";
import { copyObject, FileChangedError, uploadFile } from "./transfer.ts";

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
    case "move":
      return await applyMove(ctx, action.rel, action.from, signal);
    case "delete":
      return await applyDelete(ctx, action.rel, signal);
  }
}

const elapsed = (started: number) => Math.round(performance.now() - started);

/** After a change to `rel`: the bucket and the state store now hold `etag` for this file. */
function recorded(ctx: SiteContext, rel: string, file: LocalFile, etag: string): void {
  const key = ctx.keyOf(rel);
  ctx.remote.set(rel, { key, size: file.size, etag, storageClass: ctx.config.storageClass });
  ctx.state.put(rel, { ...file, etag });
  ctx.stats.lastSyncAt = new Date();
}

/** True when the file is exactly as `before` saw it; else it must be looked at again. */
async function stillAsBefore(path: string, before: LocalFile): Promise<boolean> {
  const after = await statFile(path);
  return !!after && after.size === before.size && after.mtimeMs === before.mtimeMs &&
    after.ino === before.ino;
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
  const ms = performance.now() - started;
  ctx.stats.uploaded++;
  ctx.stats.bytesUploaded += before.size;
  ctx.observeUpload(ms / 1000);
  log.info("uploaded", { site: ctx.config.name, key, size: before.size, ms: Math.round(ms) });
  if (!await stillAsBefore(path, before)) {
    // What was sent may be a mix of old and new bytes: the bucket keeps it only until the next look.
    ctx.remote.set(rel, { key, size: before.size, etag, storageClass });
    return AGAIN;
  }
  recorded(ctx, rel, before, etag);
  return DONE;
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
  const ifMatch = ctx.remote.get(rel)?.etag ?? "";
  const request = { source: key, key, size, storageClass, ifMatch };
  const { etag } = await copyObject(ctx.store, request, signal);
  const previous = ctx.remote.get(rel);
  const newEtag = etag || previous?.etag || "";
  ctx.remote.set(rel, { key, size, etag: newEtag, storageClass });
  const known = ctx.state.get(rel);
  if (known) ctx.state.put(rel, { ...known, etag: newEtag });
  ctx.stats.copied++;
  ctx.stats.lastSyncAt = new Date();
  log.info("changed storage class", {
    site: ctx.config.name,
    key,
    size,
    class: storageClass,
    ms: elapsed(started),
  });
  return DONE;
}

/** A renamed file: copied from its old key inside the bucket instead of uploaded again. */
async function applyMove(
  ctx: SiteContext,
  rel: string,
  from: string,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  const path = ctx.localPath(rel);
  const key = ctx.keyOf(rel);
  const source = ctx.keyOf(from);
  const before = await statFile(path);
  if (!before) return AGAIN;
  if (ctx.dryRun) {
    print(`would copy ${JSON.stringify(source)} to ${JSON.stringify(key)}`);
    return DONE;
  }
  const started = performance.now();
  let etag: string;
  try {
    const ifMatch = ctx.remote.get(from)?.etag ?? "";
    const { storageClass } = ctx.config;
    const request = { source, key, size: before.size, storageClass, ifMatch };
    ({ etag } = await copyObject(ctx.store, request, signal));
  } catch (err) {
    // The old object went away first (deleted by someone else): send the data after all.
    if (err instanceof S3Error && err.status === 404) {
      return await applyUpload(ctx, rel, undefined, signal);
    }
    throw err;
  }
  const sourceEtag = ctx.remote.get(from)?.etag ?? "";
  ctx.stats.copied++;
  log.info("copied", {
    site: ctx.config.name,
    key,
    from: source,
    size: before.size,
    ms: elapsed(started),
  });
  if (!await stillAsBefore(path, before)) return AGAIN;
  recorded(ctx, rel, before, etag || sourceEtag);
  return DONE;
}

async function applyDelete(
  ctx: SiteContext,
  rel: string,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  const key = ctx.keyOf(rel);
  // All checked again, right before the delete: the folder may have been unmounted, the file may
  // have come back, or a rename may still need this object as the source of its copy.
  if (!await ctx.rootIsPresent()) return DONE;
  if (ctx.isIncluded(rel) && await statFile(ctx.localPath(rel))) return AGAIN;
  if (ctx.isMoveSource(rel)) return AGAIN;
  if (ctx.dryRun) {
    print(`would delete ${JSON.stringify(key)}`);
    return DONE;
  }
  const started = performance.now();
  signal?.throwIfAborted();
  await ctx.deleteObject(key);
  const size = ctx.remote.get(rel)?.size;
  ctx.remote.delete(rel);
  ctx.state.delete(rel);
  ctx.stats.deleted++;
  ctx.stats.lastSyncAt = new Date();
  log.info("deleted", { site: ctx.config.name, key, size, ms: elapsed(started) });
  return DONE;
}
