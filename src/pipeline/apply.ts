/**
 * The upload stage: carries out one action (upload, copy within the bucket, delete) and keeps the
 * site's picture of the bucket and its state store up to date. It re-checks the disk right before
 * acting, so a delete never runs for a file that came back, and reports whether the path must be
 * looked at again (the file changed while it was being uploaded).
 *
 * A copy is exactly as trustworthy as an upload: it copies only the source ETag the checksum stage
 * verified against this file, only while the file keeps the stamp it had then, and its result is
 * verified against the file's bytes; anything else becomes an upload.
 * @module
 */

import { log, print } from "../lib/log.ts";
import { sameStamp } from "../state/store.ts";
import { type LocalFile, statFile } from "./check.ts";
import { compareContent } from "./compare.ts";
import type { Action, SiteContext } from "./context.ts";
import { copyObject, sourceChanged } from "./copy.ts";
import { FileChangedError } from "./file_reads.ts";
import { type Hashed, uploadFile } from "./transfer.ts";

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
      return await applyUpload(ctx, action.rel, action.hashed, signal);
    case "copy":
    case "move":
      return await applyCopy(ctx, action, signal);
    case "delete":
      return await applyDelete(ctx, action.rel, signal);
  }
}

const elapsed = (started: number) => Math.round(performance.now() - started);

/** The bucket now holds `etag` for `rel`, and the file with stamp `file` is proven to hold it. */
function recorded(ctx: SiteContext, rel: string, file: LocalFile, etag: string): void {
  const key = ctx.keyOf(rel);
  ctx.remote.set(rel, { key, size: file.size, etag, storageClass: ctx.config.storageClass });
  ctx.state.put(rel, { ...file, etag });
  ctx.stats.lastSyncAt = new Date();
}

async function applyUpload(
  ctx: SiteContext,
  rel: string,
  hashed: Hashed | undefined,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  const path = ctx.localPath(rel);
  const key = ctx.keyOf(rel);
  const before = await statFile(path, ctx.links);
  if (!before) return AGAIN; // gone since it was checked: the next look decides
  if (ctx.dryRun) {
    print(`would upload ${JSON.stringify(key)} (${before.size} bytes)`);
    return DONE;
  }
  const started = performance.now();
  const storageClass = ctx.config.storageClass;
  // The upload is remembered for the file with this stamp, so that a stop does not lose its parts.
  const resume = { uploads: ctx.state.uploads, file: before, site: ctx.config.name };
  let etag: string;
  try {
    ({ etag } = await uploadFile(
      ctx.store,
      {
        key,
        path,
        size: before.size,
        storageClass,
        acl: ctx.config.acl,
        hashed,
        resume,
        storeMtime: ctx.config.storeMtime,
        hasher: ctx,
      },
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
  if (!sameStamp(await statFile(path, ctx.links), before)) {
    // What was sent may be a mix of old and new bytes: the bucket keeps it only until the next look.
    ctx.remote.set(rel, { key, size: before.size, etag, storageClass });
    return AGAIN;
  }
  recorded(ctx, rel, before, etag);
  return DONE;
}

/**
 * A storage class change (a copy onto itself) or a rename (a copy from the old key), pinned to the
 * source ETag the checksum stage verified for this file. A source that changed or went away, or a
 * result whose bytes cannot be shown to be the file's, makes it an upload.
 */
async function applyCopy(
  ctx: SiteContext,
  action: Extract<Action, { kind: "copy" | "move" }>,
  signal?: AbortSignal,
): Promise<ApplyResult> {
  const { rel, etag: verified, file } = action;
  const path = ctx.localPath(rel);
  const key = ctx.keyOf(rel);
  const source = action.kind === "move" ? ctx.keyOf(action.from) : key;
  const storageClass = ctx.config.storageClass;
  // The ETag was verified for the file with this stamp; any change since means a new look.
  if (!sameStamp(await statFile(path, ctx.links), file)) return AGAIN;
  if (ctx.dryRun) {
    print(
      action.kind === "move"
        ? `would copy ${JSON.stringify(source)} to ${JSON.stringify(key)}`
        : `would change the storage class of ${JSON.stringify(key)} to ${storageClass}`,
    );
    return DONE;
  }
  const started = performance.now();
  let etag: string;
  try {
    const { acl } = ctx.config;
    const request = { source, key, size: file.size, storageClass, acl, ifMatch: verified };
    ({ etag } = await copyObject(ctx.store, request, signal));
  } catch (err) {
    if (!sourceChanged(err)) throw err;
    log.debug("copy source changed, uploading instead", { site: ctx.config.name, key, source });
    return await applyUpload(ctx, rel, undefined, signal);
  }
  ctx.stats.copied++;
  const site = ctx.config.name;
  const ms = elapsed(started);
  if (action.kind === "move") log.info("copied", { site, key, from: source, size: file.size, ms });
  else log.info("changed storage class", { site, key, size: file.size, class: storageClass, ms });
  // Servers that compute no ETag for a copy answer with an empty one: the source's stands.
  etag ||= verified;
  const object = { key, size: file.size, etag, storageClass };
  // Same ETag as verified: the same bytes. Otherwise (AWS gives a copied multipart object a new
  // ETag, SSE-KMS a new one on every write) the result is compared with the file itself.
  const proven = etag === verified ||
    (await compareContent(ctx, path, object, signal)).verdict === "same";
  if (!proven) {
    log.warn("a copy does not hold the file's bytes, uploading instead", {
      site: ctx.config.name,
      key,
    });
    return await applyUpload(ctx, rel, undefined, signal);
  }
  if (!sameStamp(await statFile(path, ctx.links), file)) {
    ctx.remote.set(rel, object);
    return AGAIN;
  }
  recorded(ctx, rel, file, etag);
  if (action.kind === "move") ctx.moveCopied(action.from, rel, verified, etag);
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
  if (ctx.isIncluded(rel) && await statFile(ctx.localPath(rel), ctx.links)) return AGAIN;
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
