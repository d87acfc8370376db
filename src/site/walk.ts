/**
 * Walks a folder and yields the relative paths of the regular files in it. Directories that cannot
 * be read are reported and skipped, and the walk goes on: one bad folder never stops a site.
 * Symlinks and special files are skipped (we never follow links out of the tree).
 * @module
 */

import { log } from "../lib/log.ts";
import { errorMessage } from "../lib/errors.ts";

export interface WalkReport {
  /** Relative paths of folders that could not be read: nothing under them may be deleted. */
  readonly unreadable: string[];
}

/** `dir` is relative to `root` ("" for the root itself), and so are the yielded paths. */
export async function* walkFiles(
  root: string,
  dir: string,
  report: WalkReport,
  onError: (rel: string, err: unknown) => void,
): AsyncGenerator<string> {
  // Depth-first with an explicit stack: memory grows with the depth and one folder's entries,
  // not with the size of the tree.
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop()!;
    const path = current ? `${root}/${current}` : root;
    const subdirs: string[] = [];
    try {
      for await (const entry of Deno.readDir(path)) {
        const rel = current ? `${current}/${entry.name}` : entry.name;
        if (entry.name.includes("\uFFFD") && !await exists(`${root}/${rel}`)) {
          // Deno hands over invalid UTF-8 names with U+FFFD in place of the bad bytes; such a
          // name cannot be opened, nor be an S3 key, which must be UTF-8.
          onError(rel, new Error("its name is not valid UTF-8, which S3 keys must be; skipped"));
          continue;
        }
        if (entry.isFile) yield rel;
        else if (entry.isDirectory) subdirs.push(rel);
        else log.debug("skipping a symlink or special file", { path: rel });
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound && current !== dir) continue; // gone meanwhile
      report.unreadable.push(current);
      onError(current, err);
      continue;
    }
    stack.push(...subdirs.reverse());
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
