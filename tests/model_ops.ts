/**
 * The operations model_test.ts applies to a site's folder, as plain data: a failing sequence is
 * printed as it ran, replayed, shrunk by deleting lines, and kept as a literal regression list.
 * Beside them, a seeded PRNG, a model of the folder (only to keep generated operations valid: the
 * truth is always the folder on disk), a generator of random bursts over a small set of names, and
 * the function that carries an operation out on disk.
 *
 * Paths are relative to the site's folder; `../stage/...` is a staging folder beside it, which the
 * daemon does not watch, for folders moved into and out of the site.
 * @module
 */

import { bytes, writeFile } from "./helpers.ts";
import { MiB } from "./mirror.ts";

export type Op =
  /** Creates or overwrites `path` with `size` bytes (`bytes(size, seed)`), parents made as needed. */
  | { op: "write"; path: string; size: number; seed: number }
  /** Overwrites in place with new bytes of the same size; `keepTimes` puts atime/mtime back. */
  | { op: "rewrite"; path: string; seed: number; keepTimes?: boolean }
  | { op: "append"; path: string; size: number; seed: number }
  | { op: "truncate"; path: string }
  | { op: "chmod"; path: string; mode: number }
  /** A file or a folder; a file may replace an existing file. */
  | { op: "rename"; from: string; to: string }
  /** A file, or a folder with everything in it. */
  | { op: "remove"; path: string }
  | { op: "mkdir"; path: string }
  /** The writer's own pace between two operations, so that events race with uploads. */
  | { op: "pause"; ms: number }
  /**
   * Waits for the wall clock's next whole second. Deno gives a file's ctime in whole seconds, so
   * changes made within the same second look alike to it.
   */
  | { op: "nextSecond" };

export const STAGE = "../stage";

/** One line per operation, each a literal that can be pasted into a regression list. */
export function formatOps(ops: readonly Op[], indent = "  "): string {
  return ops.map((op) => `${indent}${JSON.stringify(op)},`).join("\n");
}

/** mulberry32: a 32-bit state, good enough to pick operations, and the same on every machine. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** In [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from an empty list");
    return items[this.int(items.length)]!;
  }

  seed(): number {
    return this.int(2 ** 31);
  }
}

/** The folder's root or the staging folder's, and the names below it. */
function split(path: string): { root: string; parts: string[] } {
  if (path === STAGE) return { root: STAGE, parts: [] };
  if (path.startsWith(`${STAGE}/`)) {
    return { root: STAGE, parts: path.slice(STAGE.length + 1).split("/") };
  }
  return { root: "", parts: path === "" ? [] : path.split("/") };
}

const join = (root: string, parts: string[]) =>
  root === "" ? parts.join("/") : [root, ...parts].join("/");

function parentOf(path: string): string {
  const { root, parts } = split(path);
  return join(root, parts.slice(0, -1));
}

/** Folders between the root and `path`, outermost first, `path` excluded. */
function ancestors(path: string): string[] {
  const { root, parts } = split(path);
  return parts.slice(0, -1).map((_, i) => join(root, parts.slice(0, i + 1)));
}

const isUnder = (path: string, dir: string) => path.startsWith(`${dir}/`);
const inSite = (path: string) => split(path).root === "";
/** Folder levels of a path in the site: `d0/d1` is 2, `d0/d1/a` (a file in it) also 2. */
const dirLevels = (path: string, isDir: boolean) => split(path).parts.length - (isDir ? 0 : 1);

/**
 * The daemon's part size: larger files go in parts (a multipart ETag), and take long enough to
 * overlap the changes that follow.
 */
export const BIG = 8 * MiB;
/** Big files at once (site and staging), which bounds what a run stores in the test server. */
const MAX_BIG = 2;
/** Large uploads a burst may add (see `OpGenerator.#spend`), and what may be saved up. */
const BUDGET_PER_BURST = 6 * MiB;
const BUDGET_CAP = 20 * MiB;
/** Folder depth in the site (`d0/d1/a`). */
const MAX_LEVELS = 2;

/**
 * What the folder holds, as far as the operations say: file sizes and folders. Applying an
 * operation that cannot run (a missing source, a file where a folder must be) returns false and
 * changes nothing, so that a replayed list with lines removed still runs.
 */
export class Model {
  readonly files = new Map<string, number>();
  readonly dirs = new Set<string>();
  /** Numbers staging folder names, so that each is new. */
  staged = 0;

  clone(): Model {
    const copy = new Model();
    for (const [path, size] of this.files) copy.files.set(path, size);
    for (const dir of this.dirs) copy.dirs.add(dir);
    copy.staged = this.staged;
    return copy;
  }

  isDir(path: string): boolean {
    return path === "" || path === STAGE || this.dirs.has(path);
  }

  exists(path: string): boolean {
    return this.files.has(path) || this.isDir(path);
  }

  /** A file or folder could be created at `path` by making its missing parents. */
  canCreate(path: string): boolean {
    return !this.exists(path) && ancestors(path).every((dir) => !this.files.has(dir));
  }

  bigFiles(): number {
    return [...this.files.values()].filter((size) => size > BIG).length;
  }

  siteFiles(): string[] {
    return [...this.files.keys()].filter(inSite).sort();
  }

  siteDirs(): string[] {
    return [...this.dirs].filter(inSite).sort();
  }

  stagedDirs(): string[] {
    return [...this.dirs].filter((dir) => parentOf(dir) === STAGE).sort();
  }

  /** Folder levels below `dir` (0 for an empty folder or one holding only files). */
  depthBelow(dir: string): number {
    let depth = 0;
    const base = split(dir).parts.length;
    for (const path of [...this.dirs].filter((d) => isUnder(d, dir))) {
      depth = Math.max(depth, split(path).parts.length - base);
    }
    return depth;
  }

  #mkdirs(path: string): void {
    for (const dir of [...ancestors(path), path]) {
      if (dir !== "" && dir !== STAGE) this.dirs.add(dir);
    }
  }

  apply(op: Op): boolean {
    switch (op.op) {
      case "pause":
      case "nextSecond":
        return true;
      case "write":
        if (this.isDir(op.path) || (!this.canCreate(op.path) && !this.files.has(op.path))) {
          return false;
        }
        this.#mkdirs(parentOf(op.path));
        this.files.set(op.path, op.size);
        return true;
      case "rewrite":
      case "chmod":
        return this.files.has(op.path);
      case "append": {
        const size = this.files.get(op.path);
        if (size === undefined) return false;
        this.files.set(op.path, size + op.size);
        return true;
      }
      case "truncate":
        if (!this.files.has(op.path)) return false;
        this.files.set(op.path, 0);
        return true;
      case "mkdir":
        if (this.files.has(op.path) || (!this.canCreate(op.path) && !this.isDir(op.path))) {
          return false;
        }
        this.#mkdirs(op.path);
        return true;
      case "remove":
        if (this.files.delete(op.path)) return true;
        if (!this.dirs.has(op.path)) return false;
        this.#moveTree(op.path, undefined);
        return true;
      case "rename":
        return this.#rename(op.from, op.to);
    }
  }

  #rename(from: string, to: string): boolean {
    if (from === to || isUnder(to, from) || !this.isDir(parentOf(to))) return false;
    const size = this.files.get(from);
    if (size !== undefined) {
      if (this.isDir(to)) return false;
      this.files.delete(from);
      this.files.set(to, size);
      return true;
    }
    if (!this.dirs.has(from) || this.exists(to)) return false;
    this.#moveTree(from, to);
    return true;
  }

  /** Moves `from` and everything under it to `to`, or drops it all when `to` is undefined. */
  #moveTree(from: string, to: string | undefined): void {
    const moved = (path: string) => to === undefined ? undefined : to + path.slice(from.length);
    for (const [path, size] of [...this.files]) {
      if (!isUnder(path, from)) continue;
      this.files.delete(path);
      const target = moved(path);
      if (target !== undefined) this.files.set(target, size);
    }
    for (const dir of [...this.dirs]) {
      if (dir !== from && !isUnder(dir, from)) continue;
      this.dirs.delete(dir);
      const target = moved(dir);
      if (target !== undefined) this.dirs.add(target);
    }
  }
}

/** The small name set: operations keep landing on the same paths. */
const NAMES = ["a", "b", "c.txt", "app.log", "data.bin", "e"];
const FOLDERS = ["d0", "d1", "d2"];
/** Every folder path in the site up to MAX_LEVELS deep. */
const FOLDER_PATHS = [...FOLDERS, ...FOLDERS.flatMap((a) => FOLDERS.map((b) => `${a}/${b}`))];

type Kind =
  | "create"
  | "overwriteNewSize"
  | "overwriteSameSize"
  | "overwriteKeepTimes"
  | "writeThenKeepTimes"
  | "append"
  | "truncate"
  | "rename"
  | "renameOver"
  | "swap"
  | "rotate"
  | "chain"
  | "deleteRecreate"
  | "delete"
  | "fillTree"
  | "moveIn"
  | "moveOut"
  | "moveWithin"
  | "folderToFile"
  | "fileToFolder"
  | "removeFolder"
  | "chmod";

const WEIGHTS: Record<Kind, number> = {
  create: 10,
  overwriteNewSize: 7,
  overwriteSameSize: 6,
  overwriteKeepTimes: 5,
  writeThenKeepTimes: 3,
  append: 5,
  truncate: 3,
  rename: 6,
  renameOver: 5,
  swap: 4,
  rotate: 5,
  chain: 3,
  deleteRecreate: 5,
  delete: 4,
  fillTree: 5,
  moveIn: 3,
  moveOut: 3,
  moveWithin: 3,
  folderToFile: 3,
  fileToFolder: 2,
  removeFolder: 2,
  chmod: 4,
};

const MODES = [0o600, 0o640, 0o644, 0o664, 0o755, 0o444];

/**
 * Random bursts of valid operations. A burst is a list of groups; a group (a swap, a rotation, a
 * folder built in staging and moved in) runs back to back (only `writeThenKeepTimes` pauses
 * inside), and groups are separated by no pause or a short one (0-300 ms).
 */
export class OpGenerator {
  readonly #kinds: Kind[];

  /** `without`: kinds of groups never generated (to look past a known failure). */
  constructor(readonly random: Random, without: readonly string[] = []) {
    this.#kinds = (Object.keys(WEIGHTS) as Kind[]).filter((kind) => !without.includes(kind));
    const unknown = without.filter((kind) => !(kind in WEIGHTS));
    if (unknown.length > 0 || this.#kinds.length === 0) {
      throw new RangeError(
        `Unknown or all kinds left out: ${without.join(", ")}; ` +
          `the kinds are ${Object.keys(WEIGHTS).join(", ")}`,
      );
    }
  }

  model: Model = new Model();
  /** Bytes of large uploads (1 MiB and more) the bursts may still cause; see `#spend`. */
  #budget = 0;

  burst(groups: number): Op[] {
    this.#budget = Math.min(this.#budget + BUDGET_PER_BURST, BUDGET_CAP);
    const ops: Op[] = [];
    for (let i = 0; i < groups; i++) {
      if (i > 0 && this.random.chance(0.6)) ops.push({ op: "pause", ms: this.random.int(301) });
      ops.push(...this.group());
    }
    return ops;
  }

  group(): Op[] {
    const kinds = this.#kinds;
    const total = kinds.reduce((sum, kind) => sum + WEIGHTS[kind], 0);
    for (let tries = 0; tries < 100; tries++) {
      let roll = this.random.int(total);
      const kind = kinds.find((k) => (roll -= WEIGHTS[k]) < 0)!;
      const draft = new Draft(this.model.clone());
      if (this.#make(kind, draft)) {
        this.model = draft.model;
        return draft.ops;
      }
    }
    throw new Error("No operation applies to the model: the generator is broken");
  }

  /** A size: mostly tiny, some empty, some medium, a few above one part (bounded in number). */
  #size(model: Model): number {
    const r = this.random.next();
    if (r < 0.06 && model.bigFiles() < MAX_BIG) {
      const size = this.random.chance(0.8) ? BIG + 1 + this.random.int(MiB) : 2 * BIG + 1;
      if (this.#spend(size)) return size;
    } else if (r < 0.08) {
      const size = this.random.pick([BIG, BIG - 1]);
      if (this.#spend(size)) return size;
    } else if (r < 0.18) return 0;
    else if (r < 0.33) return this.random.between(64 * 1024, 512 * 1024);
    return this.random.between(1, 4096);
  }

  /**
   * Takes `size` from the byte budget when it is a large upload; false when the budget cannot pay.
   * The test server (RGW, in memory) frees what is overwritten or deleted only when its garbage
   * collector runs, and other tests share it: a long run sends a few MiB a round, not more.
   */
  #spend(size: number): boolean {
    if (size < MiB) return true;
    if (size > this.#budget) return false;
    this.#budget -= size;
    return true;
  }

  /** A file path in the site: in the root or an existing folder mostly, sometimes a new folder. */
  #filePath(model: Model): string {
    const folders = model.siteDirs().filter((dir) => dirLevels(dir, true) <= MAX_LEVELS);
    const parent = this.random.chance(0.4)
      ? ""
      : this.random.chance(0.7) && folders.length > 0
      ? this.random.pick(folders)
      : this.random.pick(FOLDER_PATHS);
    const name = this.random.pick(NAMES);
    return parent === "" ? name : `${parent}/${name}`;
  }

  /** A path where a new file can go, or undefined. */
  #freeFile(model: Model): string | undefined {
    for (let i = 0; i < 20; i++) {
      const path = this.#filePath(model);
      if (model.canCreate(path)) return path;
    }
    return undefined;
  }

  #someFile(model: Model, filter: (path: string) => boolean = () => true): string | undefined {
    const files = model.siteFiles().filter(filter);
    return files.length > 0 ? this.random.pick(files) : undefined;
  }

  /** A folder path that does not exist and whose parent does, deep enough for `levels` below it. */
  #freeFolder(model: Model, levels: number): string | undefined {
    const free = FOLDER_PATHS.filter((dir) =>
      !model.exists(dir) && model.isDir(parentOf(dir)) &&
      dirLevels(dir, true) + levels <= MAX_LEVELS
    );
    return free.length > 0 ? this.random.pick(free) : undefined;
  }

  #write(draft: Draft, path: string, size = this.#size(draft.model)): boolean {
    return draft.add({ op: "write", path, size, seed: this.random.seed() });
  }

  /** Writes 1 to 4 files in `dir` (and maybe in a folder below it). */
  #fill(draft: Draft, dir: string, maxLevels: number): boolean {
    const count = this.random.between(1, 4);
    for (let i = 0; i < count; i++) {
      const sub = maxLevels > 0 && this.random.chance(0.3) ? `/${this.random.pick(FOLDERS)}` : "";
      const path = `${dir}${sub}/${this.random.pick(NAMES)}`;
      const model = draft.model;
      if (model.isDir(path) || (!model.canCreate(path) && !model.files.has(path))) {
        continue;
      }
      if (!this.#write(draft, path)) return false;
    }
    return true;
  }

  #make(kind: Kind, draft: Draft): boolean {
    const model = draft.model;
    const random = this.random;
    switch (kind) {
      case "create": {
        const path = this.#freeFile(model);
        return path !== undefined && this.#write(draft, path);
      }
      case "overwriteNewSize": {
        const path = this.#someFile(model);
        if (path === undefined) return false;
        const size = this.#size(model);
        return size !== model.files.get(path) && this.#write(draft, path, size);
      }
      case "overwriteSameSize":
      case "overwriteKeepTimes": {
        const path = this.#someFile(model, (p) => model.files.get(p)! > 0);
        if (path === undefined || !this.#spend(model.files.get(path)!)) return false;
        const seed = random.seed();
        return draft.add(
          kind === "overwriteKeepTimes"
            ? { op: "rewrite", path, seed, keepTimes: true }
            : { op: "rewrite", path, seed },
        );
      }
      case "writeThenKeepTimes": {
        // Two writes of one size within the same second, the second with the first's times; the
        // pause between lets the first be uploaded (and remembered) before the second.
        const path = this.#someFile(model) ?? this.#freeFile(model);
        if (path === undefined) return false;
        const size = random.between(1, 4096);
        return this.#write(draft, path, size) &&
          draft.add({ op: "pause", ms: random.between(250, 600) }) &&
          draft.add({ op: "rewrite", path, seed: random.seed(), keepTimes: true });
      }
      case "append": {
        const path = this.#someFile(model, (p) => model.files.get(p)! < 3 * BIG);
        if (path === undefined) return false;
        const size = random.chance(0.1) ? MiB : random.between(1, 5000);
        return this.#spend(model.files.get(path)! + size) &&
          draft.add({ op: "append", path, size, seed: random.seed() });
      }
      case "truncate": {
        const path = this.#someFile(model, (p) => model.files.get(p)! > 0);
        return path !== undefined && draft.add({ op: "truncate", path });
      }
      case "rename": {
        const from = this.#someFile(model);
        const to = this.#freeFile(model);
        return from !== undefined && to !== undefined &&
          draft.add({ op: "mkdir", path: parentOf(to) }) && draft.add({ op: "rename", from, to });
      }
      case "renameOver": {
        const from = this.#someFile(model);
        const to = this.#someFile(model, (p) => p !== from);
        return from !== undefined && to !== undefined && draft.add({ op: "rename", from, to });
      }
      case "swap": {
        const a = this.#someFile(model);
        const b = this.#someFile(model, (p) => p !== a);
        if (a === undefined || b === undefined) return false;
        const parent = parentOf(a);
        const temp = parent === "" ? ".swap" : `${parent}/.swap`;
        return draft.add({ op: "rename", from: a, to: temp }) &&
          draft.add({ op: "rename", from: b, to: a }) &&
          draft.add({ op: "rename", from: temp, to: b });
      }
      case "rotate": {
        const path = this.#someFile(model, (p) => !p.endsWith(".1"));
        if (path === undefined) return false;
        return draft.add({ op: "rename", from: path, to: `${path}.1` }) && this.#write(draft, path);
      }
      case "chain": {
        const a = this.#someFile(model);
        const b = this.#freeFile(model);
        if (a === undefined || b === undefined) return false;
        if (!draft.add({ op: "mkdir", path: parentOf(b) })) return false;
        if (!draft.add({ op: "rename", from: a, to: b })) return false;
        const c = this.#freeFile(model);
        return c !== undefined && draft.add({ op: "mkdir", path: parentOf(c) }) &&
          draft.add({ op: "rename", from: b, to: c });
      }
      case "deleteRecreate": {
        const path = this.#someFile(model);
        if (path === undefined) return false;
        const old = model.files.get(path)!;
        const size = random.chance(0.5) && this.#spend(old) ? old : this.#size(model);
        return draft.add({ op: "remove", path }) && this.#write(draft, path, size);
      }
      case "delete": {
        const path = this.#someFile(model);
        return path !== undefined && draft.add({ op: "remove", path });
      }
      case "fillTree": {
        const folders = FOLDER_PATHS.filter((dir) => model.canCreate(dir) || model.isDir(dir));
        if (folders.length === 0) return false;
        const dir = random.pick(folders);
        return draft.add({ op: "mkdir", path: dir }) &&
          this.#fill(draft, dir, MAX_LEVELS - dirLevels(dir, true));
      }
      case "moveIn": {
        // A folder from outside: one moved out before, or a new one built in staging.
        const staged = model.stagedDirs();
        let from: string;
        if (staged.length > 0 && random.chance(0.4)) from = random.pick(staged);
        else {
          from = `${STAGE}/in${++model.staged}`;
          if (!draft.add({ op: "mkdir", path: from }) || !this.#fill(draft, from, 1)) return false;
        }
        const to = this.#freeFolder(model, model.depthBelow(from));
        return to !== undefined && draft.add({ op: "rename", from, to });
      }
      case "moveOut": {
        const dirs = model.siteDirs();
        if (dirs.length === 0) return false;
        // Staging keeps at most two folders.
        const staged = model.stagedDirs();
        if (staged.length >= 2 && !draft.add({ op: "remove", path: staged[0]! })) return false;
        const to = `${STAGE}/out${++model.staged}`;
        return draft.add({ op: "rename", from: random.pick(dirs), to });
      }
      case "moveWithin": {
        const dirs = model.siteDirs();
        if (dirs.length === 0) return false;
        const from = random.pick(dirs);
        const to = this.#freeFolder(model, model.depthBelow(from));
        return to !== undefined && !isUnder(to, from) && draft.add({ op: "rename", from, to });
      }
      case "folderToFile": {
        const dirs = model.siteDirs();
        if (dirs.length === 0) return false;
        const dir = random.pick(dirs);
        return draft.add({ op: "remove", path: dir }) && this.#write(draft, dir);
      }
      case "fileToFolder": {
        const path = this.#someFile(model, (p) => dirLevels(p, false) < MAX_LEVELS);
        if (path === undefined) return false;
        return draft.add({ op: "remove", path }) && draft.add({ op: "mkdir", path }) &&
          this.#fill(draft, path, MAX_LEVELS - dirLevels(path, true));
      }
      case "removeFolder": {
        const dirs = model.siteDirs();
        return dirs.length > 0 && draft.add({ op: "remove", path: random.pick(dirs) });
      }
      case "chmod": {
        const path = this.#someFile(model);
        return path !== undefined && draft.add({ op: "chmod", path, mode: random.pick(MODES) });
      }
    }
  }
}

/** A group being built on a copy of the model: an operation that does not apply spoils it. */
class Draft {
  readonly ops: Op[] = [];
  constructor(readonly model: Model) {}

  add(op: Op): boolean {
    // "mkdir" of the root or of an existing folder is left out: it would only be noise.
    if (op.op === "mkdir" && this.model.isDir(op.path)) return true;
    if (!this.model.apply(op)) return false;
    this.ops.push(op);
    return true;
  }
}

/** Carries out `op` in the site folder `root`; returns once the change is on disk. */
export async function applyOp(root: string, op: Op): Promise<void> {
  const at = (path: string) => `${root}/${path}`;
  switch (op.op) {
    case "pause":
      // Pacing, not synchronisation: the gap is part of the scenario.
      await new Promise((resolve) => setTimeout(resolve, op.ms));
      return;
    case "nextSecond":
      await new Promise((resolve) => setTimeout(resolve, 1000 - Date.now() % 1000));
      return;
    case "write":
      await writeFile(root, op.path, bytes(op.size, op.seed));
      return;
    case "rewrite": {
      const before = await Deno.stat(at(op.path));
      await Deno.writeFile(at(op.path), bytes(before.size, op.seed));
      // As `cp -p` or `touch -r` would: the times the file had before the write.
      if (op.keepTimes) await Deno.utime(at(op.path), before.atime!, before.mtime!);
      return;
    }
    case "append":
      await Deno.writeFile(at(op.path), bytes(op.size, op.seed), { append: true });
      return;
    case "truncate":
      await Deno.truncate(at(op.path), 0);
      return;
    case "chmod":
      await Deno.chmod(at(op.path), op.mode);
      return;
    case "rename":
      await Deno.rename(at(op.from), at(op.to));
      return;
    case "remove":
      await Deno.remove(at(op.path), { recursive: true });
      return;
    case "mkdir":
      await Deno.mkdir(at(op.path), { recursive: true });
      return;
  }
}
