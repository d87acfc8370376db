/**
 * The checksum stage: decides what one path needs by comparing the local file with what the bucket
 * holds. Cheap facts first (missing, size, the state store's row for the file), content only when
 * those cannot tell, and a HEAD only for ETags that cannot be recomputed. It reads the disk when it
 * runs, not when the job was queued, so a stale job can never do the wrong thing. Every copy it
 * asks for names the ETag it verified against this file's bytes, and the file's stamp at that
 * moment: the upload stage copies only that ETag, and only while the file keeps that stamp.
 * @module
 */

import type { FollowSymlinks } from "../config/types.ts";
import { isNotFound } from "../lib/errors.ts";
import { hasStoredName, isInside, namesIgnoreCase } from "../lib/local_paths.ts";
import { log } from "../lib/log.ts";
import { certifies, type FileStamp } from "../state/store.ts";
import type { RemoteObject } from "../store/types.ts";
import { compareContent } from "./compare.ts";
import type { Action, SiteContext } from "./context.ts";
import { isMultipart, partSizeFor } from "./etag.ts";
import type { Hashed } from "./transfer.ts";

const IGNORE_CASE = namesIgnoreCase();

/** S3 refuses longer keys (UTF-8 bytes). */
const MAX_KEY_BYTES = 1024;

/** A regular file as lstat saw it, and when (taken just before the lstat, to err early). */
export interface LocalFile extends FileStamp {
  readonly seenAtMs: number;
}

/** How a site treats links, so that statFile sees the files its walks see (SiteLinks is one). */
export interface LinkRule {
  readonly follow: FollowSymlinks;
  /** `local_path`. */
  readonly root: string;
  /**
   * Whether a folder on the way to `rel` is a link the site's walks skip: nothing under it is a
   * file of the site, though the system would open it.
   */
  throughSkipped(rel: string): boolean;
}

/**
 * The regular file at `path`, or undefined when there is none (gone, a FIFO, a symlink...). With
 * `links`, a link the site follows is the file it points to, stamped with the target's stat (a
 * link re-pointed to another file is a change; under `true` the target must be in the tree), and
 * a path through a link the site skips is no file.
 */
export async function statFile(path: string, links?: LinkRule): Promise<LocalFile | undefined> {
  try {
    const seenAtMs = Date.now();
    if (links && path.startsWith(`${links.root}/`)) {
      if (links.throughSkipped(path.slice(links.root.length + 1))) return undefined;
    }
    let info = await Deno.lstat(path);
    const linked = info.isSymlink;
    if (linked && links?.follow) {
      if (links.follow === true && !await insideTree(path, links.root)) return undefined;
      info = await Deno.stat(path);
    }
    if (!info.isFile) return undefined;
    // Where names ignore case, a rename from Photo.JPG to photo.jpg leaves the old name opening
    // the new file: it is no file of its own, and its object must go.
    if (IGNORE_CASE && !linked && !await hasStoredName(path)) return undefined;
    return {
      size: info.size,
      mtimeMs: info.mtime?.getTime() ?? 0,
      ctimeMs: info.ctime?.getTime() ?? 0,
      ino: inodeOf(info),
      seenAtMs,
    };
  } catch (err) {
    // ELOOP: links in a ring, which point at nothing, as a dangling one.
    if (isNotFound(err) || (err as { code?: unknown }).code === "ELOOP") return undefined;
    throw err;
  }
}

/** Whether the link at `path` leads into `root` (both taken as they are now, links resolved). */
async function insideTree(path: string, root: string): Promise<boolean> {
  const [real, realRoot] = await Promise.all([Deno.realPath(path), Deno.realPath(root)]);
  return real !== realRoot && isInside(real, realRoot);
}

/**
 * The inode, which finds a file's old name after a restart (the state store). On Windows Deno
 * gives the NTFS file index, 64 bits, as a number: above 2^53 it loses low bits, and two files
 * could then share one. There it is 0, which finds nothing: renames are still seen by the watcher,
 * but one made while the daemon was stopped uploads the file again instead of copying it.
 */
function inodeOf(info: Deno.FileInfo): number {
  return Deno.build.os === "windows" ? 0 : info.ino ?? 0;
}

export async function evaluate(
  ctx: SiteContext,
  rel: string,
  signal?: AbortSignal,
): Promise<Action | undefined> {
  // An event for this very path: its stamp may not have changed (a same-size rewrite within the
  // second, with the mtime put back), so only its bytes can tell.
  const trustRows = !ctx.takeTouched(rel);
  const remote = ctx.remote.get(rel);
  const local = ctx.isIncluded(rel) ? await statFile(ctx.localPath(rel), ctx.links) : undefined;
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
    const moved = await movedFrom(ctx, rel, local, trustRows, signal);
    if (moved) {
      log.debug("moved within the site", { site, path: rel, from: moved.from });
      return { kind: "move", rel, from: moved.from, etag: moved.etag, file: local };
    }
    log.debug("not in the bucket", { site, path: rel });
    return { kind: "upload", rel };
  }
  if (remote.size !== local.size) {
    log.debug("size differs", { site, path: rel, local: local.size, remote: remote.size });
    return { kind: "upload", rel };
  }
  const proof = await holds(ctx, rel, local, remote, trustRows, signal);
  if (!proof.same) {
    log.debug("content differs", { site, path: rel });
    return { kind: "upload", rel, hashed: proof.hashed };
  }
  if (remote.storageClass !== ctx.config.storageClass) {
    log.debug("storage class differs", { site, path: rel, remote: remote.storageClass });
    return { kind: "copy", rel, etag: remote.etag, file: local };
  }
  // The ACL is not compared: a listing does not show it, and reading it would cost a request per
  // object. `acl` applies to the objects written from then on (README, "ACLs").
  log.trace("unchanged", { site, path: rel });
  return undefined;
}

/**
 * Whether the file at `rel` (stamped `local`) holds the bytes of `object`, which may be another
 * path's object. A state store row for `rowOf` answers when it certifies this very stamp;
 * otherwise the file is hashed, and a match for its own object is recorded.
 */
async function holds(
  ctx: SiteContext,
  rel: string,
  local: LocalFile,
  object: RemoteObject,
  trustRows: boolean,
  signal?: AbortSignal,
  rowOf = rel,
): Promise<{ same: boolean; hashed?: Hashed }> {
  const row = ctx.state.get(rowOf);
  if (trustRows && certifies(row, local) && row.etag === object.etag) return { same: true };
  log.debug("comparing content", { site: ctx.config.name, path: rel });
  const check = await compareContent(ctx, ctx.localPath(rel), object, signal);
  const same = check.verdict === "same";
  if (same && rowOf === rel) ctx.state.put(rel, { ...local, etag: object.etag });
  // What an upload needs to label a multipart object with the MD5 of what it sends.
  const etag = isMultipart(local.size) ? check.etags.get(partSizeFor(local.size)) : undefined;
  const hashed = check.size === local.size ? { md5: check.md5, etag } : undefined;
  return { same, hashed };
}

/**
 * The path this file was moved from, when its object is still in the bucket with this content,
 * and that object's ETag as verified: then a copy inside the bucket replaces an upload. The
 * watcher's rename events name the old path; after a restart, the state store finds it by inode.
 */
async function movedFrom(
  ctx: SiteContext,
  rel: string,
  local: LocalFile,
  trustRows: boolean,
  signal?: AbortSignal,
): Promise<{ from: string; etag: string } | undefined> {
  const candidates = [...ctx.moveSourcesFor(rel), ctx.state.findMoved(rel, local)];
  for (const from of candidates) {
    const source = from === undefined ? undefined : ctx.remote.get(from);
    if (from === undefined || !source || source.size !== local.size) continue;
    // A row of the old path vouches for this inode's bytes when the stamp is still the same.
    if ((await holds(ctx, rel, local, source, trustRows, signal, from)).same) {
      return { from, etag: source.etag };
    }
  }
  return undefined;
}
