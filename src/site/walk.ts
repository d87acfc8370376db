/**
 * Walks a folder and yields the relative paths of the regular files in it, in key order. With
 * `follow_symlinks`, a link to a file is a file at the link's path, and a link to a folder is
 * walked as if it were a folder at the link's path (see links.ts for which links are followed).
 * @module
 */

import { errorMessage, isBusy } from "../lib/errors.ts";
import { compareKeys } from "../lib/key_order.ts";
import { joinLocal } from "../lib/local_paths.ts";
import { log } from "../lib/log.ts";
import { folderId, resolveLink, type SiteLinks } from "./links.ts";

/** A file, or a folder that could not be read: nothing under it may be deleted. */
export interface WalkEntry {
  readonly rel: string;
  readonly unreadable?: true;
}

interface Entry {
  readonly rel: string;
  readonly isDirectory: boolean;
  /** The name as it sorts among its folder's keys: a folder as "name/". */
  readonly order: string;
  /** A link that could not be looked at: nothing at or under its path may be deleted. */
  readonly unreadable?: true;
}

/** How a walk treats links: which site's rule, and what it tells the site of them. */
export interface WalkLinks {
  readonly links: SiteLinks;
  readonly site: string;
}

/**
 * The files in and under `dir` (relative to `root`, "" for the root itself), in the order S3 lists
 * their keys: UTF-8 byte order, each folder's files where "name/" sorts among its siblings. So a
 * walk merges with a listing (see the feeder) holding only the folders on the current path,
 * never the tree. Files that `keep` refuses are dropped before a folder is sorted. Folders that
 * cannot be read come at their place as `unreadable`, and the walk goes on: one bad folder never
 * stops a site. Special files are skipped, and so are links unless `links` follows them; a
 * followed folder link sorts as the folder it stands for.
 */
export async function* walkInKeyOrder(
  root: string,
  dir: string,
  keep: (rel: string) => boolean,
  onError: (rel: string, err: unknown) => void,
  links?: WalkLinks,
): AsyncGenerator<WalkEntry> {
  // The folders on the way from the root, by identity: a folder met again below itself is a loop.
  const following = links?.links.following ? links : undefined;
  const ancestors = new Set<string>();
  if (following) {
    await following.links.refreshRoot();
    const above = await idsAbove(root, dir).catch(() => undefined);
    if (!above) {
      yield { rel: dir, unreadable: true };
      return;
    }
    for (const id of above) ancestors.add(id);
  }
  const first = await enter(root, dir, ancestors, following, onError, true);
  if (!first) {
    yield { rel: dir, unreadable: true };
    return;
  }
  if (first.skip) return;
  const read = (rel: string, isTop: boolean) =>
    readSorted({ root, dir: rel, keep, onError, isTop, links, ancestors });
  const entries = await read(dir, true);
  if (!entries) {
    yield { rel: dir, unreadable: true };
    return;
  }
  const stack = [{ entries, next: 0, id: first.id }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const entry = top.entries[top.next++];
    if (!entry) {
      if (top.id) ancestors.delete(top.id);
      stack.pop();
      continue;
    }
    if (entry.unreadable) {
      yield { rel: entry.rel, unreadable: true };
      continue;
    }
    if (!entry.isDirectory) {
      yield { rel: entry.rel };
      continue;
    }
    const entered = await enter(root, entry.rel, ancestors, following, onError, false);
    if (!entered) {
      yield { rel: entry.rel, unreadable: true };
      continue;
    }
    if (entered.skip) continue;
    const below = await read(entry.rel, false);
    if (below) stack.push({ entries: below, next: 0, id: entered.id });
    else {
      if (entered.id) ancestors.delete(entered.id);
      yield { rel: entry.rel, unreadable: true };
    }
  }
}

/**
 * Takes note of the folder `rel` as the walk goes in, when links are followed: its identity
 * joins the ancestors, unless it is one of them already (a loop, reached through a link above
 * it): then, or when it is gone meanwhile, it is skipped. Undefined when it cannot be looked at.
 */
async function enter(
  root: string,
  rel: string,
  ancestors: Set<string>,
  following: WalkLinks | undefined,
  onError: (rel: string, err: unknown) => void,
  isTop: boolean,
): Promise<{ id?: string; skip?: true } | undefined> {
  if (!following) return {};
  let id: string;
  try {
    id = folderId(await Deno.stat(joinLocal(root, rel)));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !isTop) return { skip: true }; // gone meanwhile
    onError(rel, err);
    return undefined;
  }
  if (ancestors.has(id)) {
    following.links.noteSkipped(rel);
    following.links.reportOnce(
      rel,
      "warn",
      "not walking this folder: a symlink on its way leads back to a folder above it, " +
        "which would loop",
      following.site,
    );
    return { skip: true };
  }
  ancestors.add(id);
  return { id };
}

/** The identities of the root and of each folder on the way down to `dir`, `dir` excluded. */
async function idsAbove(root: string, dir: string): Promise<string[]> {
  const ids = [];
  const names = dir ? dir.split("/") : [];
  for (let i = 0; i < names.length; i++) {
    ids.push(folderId(await Deno.stat(joinLocal(root, names.slice(0, i).join("/")))));
  }
  return ids;
}

interface ReadRequest {
  readonly root: string;
  readonly dir: string;
  readonly keep: (rel: string) => boolean;
  readonly onError: (rel: string, err: unknown) => void;
  readonly isTop: boolean;
  readonly links: WalkLinks | undefined;
  readonly ancestors: ReadonlySet<string>;
}

/** The folder's files and folders in key order; undefined when it cannot be read. */
async function readSorted(request: ReadRequest): Promise<Entry[] | undefined> {
  const { root, dir, keep, onError, isTop } = request;
  const entries: Entry[] = [];
  try {
    for await (const entry of Deno.readDir(joinLocal(root, dir))) {
      const { name, isFile, isDirectory, isSymlink } = entry;
      const rel = dir ? `${dir}/${name}` : name;
      if (name.includes("\uFFFD") && !await exists(joinLocal(root, rel))) {
        // Deno hands over invalid UTF-8 names with U+FFFD in place of the bad bytes; such a
        // name cannot be opened, nor be an S3 key, which must be UTF-8.
        onError(rel, new Error("its name is not valid UTF-8, which S3 keys must be; skipped"));
      } else if (isDirectory) entries.push({ rel, isDirectory, order: `${name}/` });
      else if (isSymlink) {
        const followed = await followLink(request, rel, name);
        if (followed) entries.push(followed);
      } else if (!isFile) log.debug("skipping a symlink or special file", { path: rel });
      else if (keep(rel)) entries.push({ rel, isDirectory, order: name });
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !isTop) return []; // gone meanwhile
    onError(dir, err);
    return undefined;
  }
  return entries.sort((a, b) => compareKeys(a.order, b.order));
}

/** The entry a link stands for, or undefined when it is skipped. */
async function followLink(
  { keep, onError, links, ancestors }: ReadRequest,
  rel: string,
  name: string,
): Promise<Entry | undefined> {
  if (!links?.links.following) {
    links?.links.noteSkipped(rel);
    log.debug("skipping a symlink or special file", { path: rel });
    return undefined;
  }
  try {
    const target = await resolveLink(links.links, rel, ancestors, links.site);
    if (!target) {
      links.links.noteSkipped(rel);
      return undefined;
    }
    links.links.noteFollowed(rel, target);
    if (target.kind === "folder") return { rel, isDirectory: true, order: `${name}/` };
    return keep(rel) ? { rel, isDirectory: false, order: name } : undefined;
  } catch (err) {
    // Its target cannot be looked at (permission denied on the way): kept like a folder that
    // cannot be read, so that nothing synced from it is deleted.
    onError(rel, err);
    return { rel, isDirectory: false, order: `${name}/`, unreadable: true };
  }
}

/** Deno's and node:fs's errors alike, in a few plain words (the path is already in the message). */
const FS_ERRORS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "not found",
  ENOTDIR: "not a folder",
  EISDIR: "is a folder",
  ELOOP: "too many levels of symbolic links",
  EMFILE: "too many open files",
  ENAMETOOLONG: "name too long",
  EIO: "input/output error",
};

export function describeFsError(err: unknown): string {
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.NotFound) return "not found";
  if (isBusy(err)) return "in use by another program";
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && FS_ERRORS[code]) return FS_ERRORS[code];
  return errorMessage(err);
}

/** A folder that is there and can be read: the guard every delete and verification passes. */
export async function isReadableFolder(path: string): Promise<boolean> {
  try {
    if (!(await Deno.stat(path)).isDirectory) return false;
    // Reading one entry proves the folder is readable, not just present.
    for await (const _ of Deno.readDir(path)) break;
    return true;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
