/**
 * Walks a folder and yields the relative paths of the regular files in it, in key order.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { compareKeys } from "../lib/key_order.ts";
import { log } from "../lib/log.ts";

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
}

/**
 * The files in and under `dir` (relative to `root`, "" for the root itself), in the order S3 lists
 * their keys: UTF-8 byte order, each folder's files where "name/" sorts among its siblings. So a
 * walk merges with a listing (see the feeder) holding only the folders on the current path,
 * never the tree. Files that `keep` refuses are dropped before a folder is sorted. Folders that
 * cannot be read come at their place as `unreadable`, and the walk goes on: one bad folder never
 * stops a site. Symlinks and special files are skipped (we never follow links out of the tree).
 */
export async function* walkInKeyOrder(
  root: string,
  dir: string,
  keep: (rel: string) => boolean,
  onError: (rel: string, err: unknown) => void,
): AsyncGenerator<WalkEntry> {
  const first = await readSorted(root, dir, keep, onError, true);
  if (!first) {
    yield { rel: dir, unreadable: true };
    return;
  }
  const stack = [{ entries: first, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const entry = top.entries[top.next++];
    if (!entry) {
      stack.pop();
      continue;
    }
    if (!entry.isDirectory) {
      yield { rel: entry.rel };
      continue;
    }
    const entries = await readSorted(root, entry.rel, keep, onError, false);
    if (entries) stack.push({ entries, next: 0 });
    else yield { rel: entry.rel, unreadable: true };
  }
}

/** The folder's files and folders in key order; undefined when it cannot be read. */
async function readSorted(
  root: string,
  dir: string,
  keep: (rel: string) => boolean,
  onError: (rel: string, err: unknown) => void,
  isTop: boolean,
): Promise<Entry[] | undefined> {
  const entries: Entry[] = [];
  try {
    for await (const { name, isFile, isDirectory } of Deno.readDir(dir ? `${root}/${dir}` : root)) {
      const rel = dir ? `${dir}/${name}` : name;
      if (name.includes("\uFFFD") && !await exists(`${root}/${rel}`)) {
        // Deno hands over invalid UTF-8 names with U+FFFD in place of the bad bytes; such a
        // name cannot be opened, nor be an S3 key, which must be UTF-8.
        onError(rel, new Error("its name is not valid UTF-8, which S3 keys must be; skipped"));
      } else if (isDirectory) entries.push({ rel, isDirectory, order: `${name}/` });
      else if (!isFile) log.debug("skipping a symlink or special file", { path: rel });
      else if (keep(rel)) entries.push({ rel, isDirectory, order: name });
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound && !isTop) return []; // gone meanwhile
    onError(dir, err);
    return undefined;
  }
  return entries.sort((a, b) => compareKeys(a.order, b.order));
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
