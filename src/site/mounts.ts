/**
 * Disks mounted inside a site's folder. A folder that was a mount point and is now an empty
 * folder on its parent's device is a disk that is not mounted: nothing under it is deleted, since
 * "every file under it is gone" is what an unmounted disk looks like (a restart while one was
 * unmounted once deleted all 20 of its 20 objects). The site's root itself is the empty-root
 * refusal's (feeder.ts); this covers the folders inside it.
 *
 * Mount points come from three places, so that losing one does not lose the guard: the mount
 * table now (`/proc/self/mountinfo`), what the system mounts at boot (`/etc/fstab`), and the mount
 * points seen before (`mounts.json` in state_dir). A disk that was mounted by hand, is not in
 * fstab, and is unmounted while the state folder is lost is not known to be one: then the delete
 * guard's cap is what is left. Linux only; elsewhere only what state_dir remembers counts.
 * @module
 */

import { isNotFound } from "../lib/errors.ts";
import { joinLocal, LocalPaths } from "../lib/local_paths.ts";
import { log } from "../lib/log.ts";

export const MOUNTS_FILE = "mounts.json";

/** `\040` and the like, as the kernel and fstab escape spaces, tabs and backslashes. */
const unescape = (text: string) =>
  text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** The mount points of a `/proc/self/mountinfo` (the fifth field of each line). */
export function parseMountInfo(text: string): string[] {
  return text.split("\n").flatMap((line) => {
    const point = line.split(" ")[4];
    return point ? [unescape(point)] : [];
  });
}

/** The mount points of an `/etc/fstab` (the second field), swap and comments left out. */
export function parseFstab(text: string): string[] {
  return text.split("\n").flatMap((line) => {
    const fields = line.trim().split(/\s+/);
    const point = fields[1];
    if (!fields[0] || fields[0].startsWith("#") || !point?.startsWith("/")) return [];
    return [unescape(point)];
  });
}

/** The points strictly inside `root`, relative to it. */
export function pointsUnder(root: string, points: Iterable<string>): string[] {
  const paths = new LocalPaths(root);
  const rels = new Set<string>();
  for (const point of points) {
    const rel = paths.rel(point);
    if (rel !== undefined) rels.add(rel);
  }
  return [...rels].sort();
}

/** A folder's device, and whether it holds nothing; undefined when it is not a folder. */
export type FolderLook = (path: string) => Promise<{ dev: number; empty: boolean } | undefined>;

export async function lookAtFolder(path: string): ReturnType<FolderLook> {
  try {
    const info = await Deno.stat(path);
    if (!info.isDirectory) return undefined;
    let empty = true;
    for await (const _ of Deno.readDir(path)) {
      empty = false;
      break;
    }
    return { dev: info.dev, empty };
  } catch {
    return undefined;
  }
}

/** Of the mount points `rels` (inside `root`), those that are empty folders on their parent's device. */
export async function unmounted(
  root: string,
  rels: readonly string[],
  look: FolderLook = lookAtFolder,
): Promise<string[]> {
  const found: string[] = [];
  for (const rel of rels) {
    const folder = await look(joinLocal(root, rel));
    const slash = rel.lastIndexOf("/");
    const parent = await look(joinLocal(root, slash < 0 ? "" : rel.slice(0, slash)));
    // A mounted disk has a device of its own; a folder that is gone or holds files is left to
    // the comparison (and the delete guard's cap).
    if (folder && parent && folder.empty && folder.dev === parent.dev) found.push(rel);
  }
  return found;
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (!isNotFound(err)) log.debug("cannot read a mount table", { path, error: String(err) });
    return "";
  }
}

/** The mount points seen inside the sites' folders (absolute paths), kept for the next start. */
export class MountMemory {
  readonly #points = new Set<string>();
  #loaded = false;

  /** `file`: where to keep them (undefined: nowhere); `roots`: the sites' folders. */
  constructor(private readonly file: string | undefined, private readonly roots: string[]) {}

  /** Every known mount point: the mount table now, fstab, and those remembered. */
  async points(): Promise<Set<string>> {
    if (!this.#loaded && this.file) {
      this.#loaded = true;
      try {
        const saved = JSON.parse(await readText(this.file) || "[]");
        if (Array.isArray(saved)) {
          for (const p of saved) if (typeof p === "string") this.#points.add(p);
        }
      } catch {
        log.warn("cannot read the remembered mount points; starting afresh", { file: this.file });
      }
    }
    const mounted = parseMountInfo(await readText("/proc/self/mountinfo"));
    const size = this.#points.size;
    for (const root of this.roots) {
      for (const rel of pointsUnder(root, mounted)) {
        this.#points.add(`${root.replace(/\/$/, "")}/${rel}`);
      }
    }
    if (this.#points.size > size) await this.#save();
    const all = new Set(this.#points);
    for (const point of parseFstab(await readText("/etc/fstab"))) all.add(point);
    return all;
  }

  async #save(): Promise<void> {
    if (!this.file) return;
    try {
      const temp = `${this.file}.tmp`;
      await Deno.writeTextFile(temp, JSON.stringify([...this.#points].sort()));
      await Deno.rename(temp, this.file);
    } catch (err) {
      log.debug("cannot remember the mount points", { file: this.file, error: String(err) });
    }
  }
}
