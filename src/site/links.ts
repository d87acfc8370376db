/**
 * Symbolic links under `follow_symlinks`: what a link in the tree stands for (a file, a folder, or
 * nothing: dangling, a loop, or outside the tree under `true`), and what a site's walks learnt of
 * its links. The watcher needs the latter: inotify reports a change by one of the paths that lead
 * to a folder (notify follows links, and keeps one path per watched inode), so a change behind a
 * link must be named by every path that leads to it, and never by a link the site does not follow.
 * @module
 */

import type { FollowSymlinks } from "../config/types.ts";
import { isInside } from "../lib/local_paths.ts";
import { log } from "../lib/log.ts";
import type { LinkRule } from "../pipeline/check.ts";

/** A folder's identity: every path that leads to one folder gives the same. */
export function folderId(info: Deno.FileInfo): string {
  return `${info.dev}:${info.ino}`;
}

/** What a followed link stands for; undefined when it is skipped. */
export type Target =
  | { readonly kind: "file"; readonly real: string }
  | { readonly kind: "folder"; readonly real: string; readonly id: string };

/** The folder that holds `path` (absolute): "/" for a top-level one, "" for "/" itself. */
function parentOf(path: string): string {
  if (path === "/") return "";
  const slash = path.lastIndexOf("/");
  return slash > 0 ? path.slice(0, slash) : "/";
}

/** One site's links, as its walks found them; the walks fill it, the watcher reads it. */
export class SiteLinks implements LinkRule {
  /** The real path of `local_path` when last looked at (it may itself be a link). */
  realRoot: string;
  /** Followed links by their relative path: the real path each leads to. */
  readonly #followed = new Map<string, { readonly real: string; readonly folder: boolean }>();
  /** The same, by real path: the relative paths that lead there. */
  readonly #byReal = new Map<string, Set<string>>();
  /** Links seen and not followed: paths through them name no file of the site. */
  readonly #skipped = new Set<string>();
  /** Links already reported (a loop, outside the tree): once per link, not once per walk. */
  readonly #reported = new Set<string>();
  /** A link to outside the tree was forgotten: its watch may end once a walk is over. */
  #outsideForgotten = false;
  /** The walk under way, and the links it found so far. */
  #walk: { readonly dir: string; readonly seen: Set<string> } | undefined;
  /**
   * Called when what followed links lead to outside the tree may have changed: `complete` once a
   * walk is over (a target no longer listed is gone), not while a walk is finding them again.
   */
  onOutsideChange: ((complete: boolean) => void) | undefined;

  constructor(readonly root: string, readonly follow: FollowSymlinks = false) {
    this.realRoot = root;
  }

  get following(): boolean {
    return this.follow !== false;
  }

  /** Looks at where `local_path` leads now; a walk does so before it starts. */
  async refreshRoot(): Promise<string> {
    this.realRoot = await Deno.realPath(this.root).catch(() => this.root);
    return this.realRoot;
  }

  /** True while no link is known: then every path is its own, real one. */
  get empty(): boolean {
    return this.#followed.size === 0 && this.#skipped.size === 0;
  }

  noteSkipped(rel: string): void {
    this.#walk?.seen.add(rel);
    this.#dropFollowed(rel);
    this.#skipped.add(rel);
  }

  noteFollowed(rel: string, target: Target): void {
    this.#walk?.seen.add(rel);
    this.#skipped.delete(rel);
    const was = this.#followed.get(rel);
    if (was?.real === target.real && was.folder === (target.kind === "folder")) return;
    if (was) this.#dropFollowed(rel);
    this.#followed.set(rel, { real: target.real, folder: target.kind === "folder" });
    let rels = this.#byReal.get(target.real);
    if (!rels) this.#byReal.set(target.real, rels = new Set());
    rels.add(rel);
    if (!isInside(target.real, this.realRoot)) this.onOutsideChange?.(false);
  }

  /** Forgets the links at and under `dir` ("" for all) at once: nothing is there any more. */
  forgetUnder(dir: string, keep?: ReadonlySet<string>): void {
    const under = (rel: string) => dir === "" || rel === dir || rel.startsWith(`${dir}/`);
    for (const rel of this.#followed.keys()) {
      if (under(rel) && !keep?.has(rel)) this.#dropFollowed(rel);
    }
    for (const rel of this.#skipped) if (under(rel) && !keep?.has(rel)) this.#skipped.delete(rel);
  }

  /**
   * A walk of `dir` starts: what it does not find again is forgotten when it is over (`settle`).
   * Until then the links stay known, so that checks running meanwhile see them.
   */
  beginWalk(dir: string): void {
    // `dir` itself is not the walk's to find: its parent's walk, or the feeder, tells of it.
    this.#walk = { dir, seen: new Set([dir]) };
  }

  /** `rel` is no link (any more). */
  forget(rel: string): void {
    this.#dropFollowed(rel);
    this.#skipped.delete(rel);
  }

  /** A walk is over: what it did not find again is gone. */
  settle(): void {
    const walk = this.#walk;
    this.#walk = undefined;
    if (walk) this.forgetUnder(walk.dir, walk.seen);
    if (!this.#outsideForgotten) return;
    this.#outsideForgotten = false;
    this.onOutsideChange?.(true);
  }

  /** Logs `message` about the link at `rel`, the first time only. */
  reportOnce(rel: string, level: "info" | "warn", message: string, site: string): void {
    if (this.#reported.has(rel)) return;
    this.#reported.add(rel);
    log[level](message, { site, path: rel });
  }

  /** Whether some folder on the way to `rel` (not `rel` itself) is a link the walks skip. */
  throughSkipped(rel: string): boolean {
    if (this.#skipped.size === 0) return false;
    for (let end = rel.indexOf("/"); end > 0; end = rel.indexOf("/", end + 1)) {
      if (this.#skipped.has(rel.slice(0, end))) return true;
    }
    return false;
  }

  /** Whether some folder on the way to `rel` (not `rel` itself) is a known link. */
  throughLink(rel: string): boolean {
    for (let end = rel.indexOf("/"); end > 0; end = rel.indexOf("/", end + 1)) {
      const dir = rel.slice(0, end);
      if (this.#skipped.has(dir) || this.#followed.get(dir)?.folder) return true;
    }
    return false;
  }

  /**
   * Every relative path that names the file or folder at the real path `real`: its own path
   * when it is in the tree, and the path through each followed link that leads to it or above it.
   */
  pathsOf(real: string): string[] {
    const rels = new Set<string>();
    const root = this.realRoot;
    if (real !== root && isInside(real, root)) {
      rels.add(real.slice(root === "/" ? 1 : root.length + 1));
    }
    if (this.#byReal.size > 0) {
      for (let at = real; at !== "/" && at !== ""; at = parentOf(at)) {
        for (const rel of this.#byReal.get(at) ?? []) rels.add(rel + real.slice(at.length));
      }
    }
    return [...rels];
  }

  /**
   * What the watcher must watch besides `local_path`: the folders outside it that followed
   * folder links lead to (recursively, none inside another), and the folders of followed file
   * links outside it (only their entries).
   */
  outsideTargets(): { readonly path: string; readonly recursive: boolean }[] {
    const folders = new Set<string>();
    const fileDirs = new Set<string>();
    for (const { real, folder } of this.#followed.values()) {
      if (isInside(real, this.realRoot)) continue;
      if (folder) folders.add(real);
      else fileDirs.add(parentOf(real));
    }
    const covered = (dir: string) => {
      for (let at = parentOf(dir); at !== ""; at = parentOf(at)) if (folders.has(at)) return true;
      return false;
    };
    const tops = [...folders].filter((dir) => !covered(dir));
    return [
      ...tops.map((path) => ({ path, recursive: true })),
      ...[...fileDirs].filter((dir) => !folders.has(dir) && !covered(dir))
        .map((path) => ({ path, recursive: false })),
    ];
  }

  #dropFollowed(rel: string): void {
    const was = this.#followed.get(rel);
    if (!was) return;
    this.#followed.delete(rel);
    const rels = this.#byReal.get(was.real);
    rels?.delete(rel);
    if (rels?.size === 0) this.#byReal.delete(was.real);
    if (!isInside(was.real, this.realRoot)) this.#outsideForgotten = true;
  }
}

/**
 * What the link at `rel` stands for under the site's rule, or undefined when it is skipped:
 * dangling (quietly), outside the tree under `true`, or a loop, a link to a folder in
 * `ancestors` (the folders on the way from the root to the link, by `folderId`). Throws what
 * stat throws for any other reason (permission denied on the way to the target).
 */
export async function resolveLink(
  links: SiteLinks,
  rel: string,
  ancestors: ReadonlySet<string>,
  site: string,
): Promise<Target | undefined> {
  const path = `${links.root}/${rel}`;
  let info: Deno.FileInfo;
  let real: string;
  try {
    info = await Deno.stat(path);
    real = await Deno.realPath(path);
  } catch (err) {
    if (!isDangling(err)) throw err;
    log.debug("skipping a dangling symlink", { site, path: rel });
    return undefined;
  }
  if (links.follow === true && !isInside(real, links.realRoot)) {
    links.reportOnce(
      rel,
      "info",
      `not following the symlink: it points outside local_path, to "${real}" ` +
        `(follow_symlinks: any would follow it)`,
      site,
    );
    return undefined;
  }
  if (info.isFile) return { kind: "file", real };
  if (!info.isDirectory) {
    log.debug("skipping a symlink to a special file", { site, path: rel });
    return undefined;
  }
  const id = folderId(info);
  if (ancestors.has(id)) {
    links.reportOnce(
      rel,
      "warn",
      `not following the symlink: it points to "${real}", a folder above it, which would loop`,
      site,
    );
    return undefined;
  }
  return { kind: "folder", real, id };
}

/** A link to nothing: its target is gone, or links point at each other in a ring. */
function isDangling(err: unknown): boolean {
  if (err instanceof Deno.errors.NotFound) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === "ELOOP" || code === "ENOENT" || code === "ENOTDIR";
}
