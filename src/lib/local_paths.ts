/**
 * Local paths and keys, the one place that knows the platform's path rules. A site's files are
 * named inside the engine by `rel`: the path below `local_path` with "/" between segments, which
 * is also what the key (below the prefix), exclusions and inclusions see. This module turns a
 * `rel` into the platform's path and a path the system handed over (a watch event, a walk) back
 * into a `rel`. On Windows that means drive letters, UNC shares (`\\server\share`), `\\?\` long
 * paths and `\` as well as `/` between segments; on POSIX systems a `\` is part of a name.
 *
 * The rules are node:path's `win32` and `posix`, chosen by the platform and injectable, so that the
 * tests run both flavours on any machine.
 * @module
 */

import { posix, win32 } from "node:path";

export type PathFlavour = typeof posix;

/** The flavour of the system we run on. */
export function platformFlavour(): PathFlavour {
  return Deno.build.os === "windows" ? win32 : posix;
}

/**
 * File systems whose names ignore case by default (APFS, NTFS): there a stat of `Photo.JPG` finds
 * `photo.jpg`, so an existence check must also compare the name as stored (see `storedName`).
 */
export function namesIgnoreCase(os: string = Deno.build.os): boolean {
  return os === "darwin" || os === "windows";
}

/**
 * `text` as a folder to sync: absolute in `flavour`, normalised, without a trailing separator
 * (except for a root: "/", "C:\", "\\server\share\"). Throws with the rule broken.
 */
export function normaliseRoot(text: string, flavour: PathFlavour = platformFlavour()): string {
  // A relative path would depend on the working directory, which differs under systemd and k8s;
  // so would "C:data" (drive C's current folder) and "\data" (the current drive). Windows needs a
  // drive and a folder (C:\), a share (\\server) or a long path (\\?\).
  const absolute = flavour === win32
    ? /^([a-z]:[\\/]|[\\/]{2}[^\\/])/i.test(text)
    : flavour.isAbsolute(text);
  if (!absolute) {
    const example = flavour === win32 ? `C:\\data or \\\\server\\share\\data` : "/data";
    throw new Error(`must be an absolute path (like ${example})`);
  }
  const normal = flavour.normalize(text);
  const root = flavour.parse(normal).root;
  return normal.length > root.length ? normal.replace(/[\\/]+$/, "") : normal;
}

/** The platform's path of `rel` under `root` ("" is the root itself). */
export function joinLocal(
  root: string,
  rel: string,
  flavour: PathFlavour = platformFlavour(),
): string {
  if (rel === "") return root;
  // Segments are joined, not the string: on Windows "a/b" becomes "a\b"; on POSIX a "\" in a
  // name stays a character of that name.
  return flavour.join(root, ...rel.split("/"));
}

/** Maps between a site's `rel` names and the platform's paths under `root` (normalised). */
export class LocalPaths {
  readonly #plainRoot: string;

  constructor(readonly root: string, private readonly flavour: PathFlavour = platformFlavour()) {
    this.#plainRoot = this.#plain(root);
  }

  /** The platform's path of `rel` ("" is the root itself). */
  local(rel: string): string {
    return joinLocal(this.root, rel, this.flavour);
  }

  /** Whether `path` names the root itself, in any of its spellings. */
  isRoot(path: string): boolean {
    const plain = this.#plain(path).replace(/[\\/]+$/, "");
    const root = this.#plainRoot.replace(/[\\/]+$/, "");
    return this.flavour === win32 ? plain.toLowerCase() === root.toLowerCase() : plain === root;
  }

  /** The `rel` of `path`: undefined for the root itself and for anything outside it. */
  rel(path: string): string | undefined {
    const { sep } = this.flavour;
    const windows = this.flavour === win32;
    const root = this.#plainRoot;
    const normal = this.#plain(path);
    const head = normal.slice(0, root.length);
    // Windows paths ignore case, and its APIs may spell a drive "c:" or "C:".
    if (windows ? head.toLowerCase() !== root.toLowerCase() : head !== root) return undefined;
    let rest = normal.slice(root.length);
    if (!root.endsWith(sep)) {
      if (!rest.startsWith(sep)) return undefined;
      rest = rest.slice(1);
    }
    while (rest.endsWith(sep)) rest = rest.slice(0, -1);
    if (rest === "") return undefined;
    return windows ? rest.replaceAll("\\", "/") : rest;
  }

  /**
   * Normalised, and on Windows without the long-path prefix: `\\?\C:\x` is `C:\x` and
   * `\\?\UNC\server\share` is `\\server\share`, and Windows APIs (the watcher among them) may
   * give either spelling of one path.
   */
  #plain(path: string): string {
    const normal = this.flavour.normalize(path);
    if (this.flavour !== win32) return normal;
    if (/^\\\\\?\\UNC\\/i.test(normal)) return `\\\\${normal.slice(8)}`;
    if (/^\\\\\?\\[a-z]:/i.test(normal)) return normal.slice(4);
    return normal;
  }
}

/**
 * Whether the file at `path` is stored under exactly that name. Where names ignore case (see
 * `namesIgnoreCase`), `Photo.JPG` opens `photo.jpg`, and a rename that changed only the case would
 * otherwise leave the old key for good. The real path gives the name as stored (APFS and NTFS
 * both answer with it); one call, on those systems only.
 */
export async function hasStoredName(
  path: string,
  realPath: (path: string) => Promise<string> = Deno.realPath,
  flavour: PathFlavour = platformFlavour(),
): Promise<boolean> {
  return flavour.basename(await realPath(path)) === flavour.basename(path);
}

/** `path` is `dir` or under it (both absolute POSIX paths, links resolved). */
export function isInside(path: string, dir: string): boolean {
  return dir === "/" || path === dir || path.startsWith(`${dir}/`);
}
