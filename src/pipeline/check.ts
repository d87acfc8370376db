/**
 * The checksum stage: decides what one path needs by comparing the local file with what the bucket
 * holds. Cheap facts first (missing, size, the state store's memory of the file), content only
 * when those cannot tell, and a HEAD only for ETags that cannot be recomputed. It reads the disk
 * when it runs, not when the job was queued, so a stale job can never do the wrong thing.
 * @module
 */

import { log } from "../lib/log.ts";
import type { FileState } from "../state/store.ts";
import type { RemoteObject } from "../store/types.ts";
import type { Action, SiteContext } from "./context.ts";
import { candidatePartSizes, parseEtag } from "./etag.ts";
import { MD5_METADATA } from "./transfer.ts";

/** S3 refuses longer keys (UTF-8 bytes). */
const MAX_KEY_BYTES = 1024;

/** A regular file as lstat saw it: what the state store compares. */
export interface LocalFile {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
}

/** The regular file at `path`, or undefined when there is none (gone, a symlink, a FIFO...). */
export async function statFile(path: string): Promise<LocalFile | undefined> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile) return undefined;
    return {
      size: info.size,
      mtimeMs: info.mtime?.getTime() ?? 0,
      ctimeMs: info.ctime?.getTime() ?? 0,
      ino: info.ino ?? 0,
    };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw err;
  }
}

/** The file has not been touched since `known` was recorded: same inode, size, mtime and ctime. */
export function unchangedSince(known: FileState | undefined, file: LocalFile): boolean {
  return known !== undefined && known.size === file.size && known.mtimeMs === file.mtimeMs &&
    known.ctimeMs === file.ctimeMs && known.ino === file.ino;
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
  const keyBytes = new TextEncoder().encode(ctx.keyOf(rel)).length;
  if (keyBytes > MAX_KEY_BYTES) {
    throw new Error(`its key would be ${keyBytes} bytes long; S3 allows at most ${MAX_KEY_BYTES}`);
  }
  if (!remote) {
    const from = await movedFrom(ctx, rel, local, signal);
    if (from) {
      log.debug("moved within the site", { site, path: rel, from });
      return { kind: "move", rel, from };
    }
    log.debug("not in the bucket", { site, path: rel });
    return { kind: "upload", rel };
  }
  if (remote.size !== local.size) {
    log.debug("size differs", { site, path: rel, local: local.size, remote: remote.size });
    return { kind: "upload", rel };
  }
  const { same, md5 } = await matches(ctx, rel, local, remote, signal);
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

/**
 * Whether the file at `rel` holds what `remote` holds. The state store answers for a file untouched
 * since we last knew its ETag; otherwise the file is hashed, and a match is remembered.
 */
async function matches(
  ctx: SiteContext,
  rel: string,
  local: LocalFile,
  remote: RemoteObject,
  signal?: AbortSignal,
): Promise<{ same: boolean; md5?: string }> {
  const known = ctx.state.get(rel);
  if (unchangedSince(known, local) && known?.etag === remote.etag) return { same: true };
  const result = await sameContent(ctx, rel, remote, signal);
  if (result.same) ctx.state.put(rel, { ...local, etag: remote.etag });
  return result;
}

async function sameContent(
  ctx: SiteContext,
  rel: string,
  remote: RemoteObject,
  signal?: AbortSignal,
): Promise<{ same: boolean; md5: string }> {
  const etag = remote.etag.toLowerCase();
  const parsed = parseEtag(etag);
  const partSizes = parsed.kind === "multipart"
    ? candidatePartSizes(remote.size, parsed.parts)
    : [];
  log.debug("comparing content", { site: ctx.config.name, path: rel });
  const digest = await ctx.hash(ctx.localPath(rel), partSizes, signal);
  if (parsed.kind === "md5") return { same: digest.md5 === parsed.md5, md5: digest.md5 };
  if (partSizes.length > 0) {
    return { same: [...digest.etags.values()].includes(etag), md5: digest.md5 };
  }
  // An ETag we cannot recompute (SSE-KMS, an unknown part layout): our own uploads carry the MD5
  // in metadata, so after one re-upload this check matches and the file is left alone.
  const info = await ctx.store.head(remote.key, signal);
  return { same: info?.metadata[MD5_METADATA] === digest.md5, md5: digest.md5 };
}

/**
 * The path this file was moved from, when its object is still in the bucket with this content:
 * then a copy inside the bucket replaces an upload. The watcher's rename events name the old path;
 * after a restart, the state store finds it by inode.
 */
async function movedFrom(
  ctx: SiteContext,
  rel: string,
  local: LocalFile,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const candidates = [...ctx.moveSourcesFor(rel), ctx.state.findMoved(rel, local)];
  for (const from of candidates) {
    const source = from === undefined ? undefined : ctx.remote.get(from);
    if (from === undefined || !source || source.size !== local.size) continue;
    // The very file we uploaded there (the same inode, untouched): no need to read it.
    const known = ctx.state.get(from);
    if (unchangedSince(known, local) && known?.etag === source.etag) return from;
    if ((await matches(ctx, rel, local, source, signal)).same) return from;
  }
  return undefined;
}
