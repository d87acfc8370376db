/**
 * The checksum stage: decides what one path needs by comparing the local file with what the bucket
 * holds. Cheap facts first (missing, size), content only when sizes match, and a HEAD only for
 * ETags that cannot be recomputed. It reads the state of the disk when it runs, not when the job
 * was queued, so a stale job can never do the wrong thing.
 * @module
 */

import { log } from "../lib/log.ts";
import type { Action, SiteContext } from "./context.ts";
import { candidatePartSizes, parseEtag } from "./etag.ts";
import { hashFile } from "./hash.ts";
import { MD5_METADATA } from "./transfer.ts";

export interface LocalFile {
  readonly size: number;
  readonly mtimeMs: number;
}

/** The regular file at `path`, or undefined when there is none (gone, a symlink, a FIFO...). */
export async function statFile(path: string): Promise<LocalFile | undefined> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile) return undefined;
    return { size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw err;
  }
}

export async function evaluate(
  ctx: SiteContext,
  rel: string,
  signal?: AbortSignal,
): Promise<Action | undefined> {
  const remote = ctx.remote.get(rel);
  const local = ctx.isIncluded(rel) ? await statFile(ctx.localPath(rel)) : undefined;
  ctx.stats.checked++;
  const site = ctx.config.name;
  if (!local) {
    if (remote && ctx.config.retireDeleted) return { kind: "delete", rel };
    return undefined;
  }
  if (!remote) {
    log.debug("not in the bucket", { site, path: rel });
    return { kind: "upload", rel };
  }
  if (remote.size !== local.size) {
    log.debug("size differs", { site, path: rel, local: local.size, remote: remote.size });
    return { kind: "upload", rel };
  }
  const { same, md5 } = await sameContent(ctx, rel, remote.etag, local.size, signal);
  if (!same) {
    log.debug("content differs", { site, path: rel });
    return { kind: "upload", rel, md5 };
  }
  if (remote.storageClass !== ctx.config.storageClass) {
    log.debug("storage class differs", { site, path: rel, remote: remote.storageClass });
    return { kind: "copy", rel, size: remote.size };
  }
  log.trace("unchanged", { site, path: rel });
  return undefined;
}

async function sameContent(
  ctx: SiteContext,
  rel: string,
  etag: string,
  size: number,
  signal?: AbortSignal,
): Promise<{ same: boolean; md5: string }> {
  const parsed = parseEtag(etag);
  const partSizes = parsed.kind === "multipart" ? candidatePartSizes(size, parsed.parts) : [];
  const digest = await hashFile(ctx.localPath(rel), partSizes, signal);
  if (parsed.kind === "md5") return { same: digest.md5 === parsed.md5, md5: digest.md5 };
  if (partSizes.length > 0) {
    const same = [...digest.etags.values()].includes(etag.toLowerCase());
    return { same, md5: digest.md5 };
  }
  // An ETag we cannot recompute (SSE-KMS, an unknown part layout): our own uploads carry the MD5
  // in metadata, so after one re-upload this check matches and the file is left alone.
  const info = await ctx.store.head(ctx.keyOf(rel), signal);
  return { same: info?.metadata[MD5_METADATA] === digest.md5, md5: digest.md5 };
}
