/**
 * Data sets for the benchmark: folders of random, incompressible files, written once per bench run
 * into a temp folder, and in-place same-size rewrites of a sample of them (scenario 4).
 * @module
 */

import { createHash } from "node:crypto";

const CHUNK = 64 * 1024;

/** A fast xorshift PRNG; crypto.getRandomValues is capped at 64 KiB per call and slower. */
export class Random {
  #x: number;
  constructor(seed: number) {
    this.#x = (seed * 2654435761) >>> 0 || 1;
  }
  next(): number {
    let x = this.#x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#x = x >>> 0;
    return this.#x;
  }
  fill(out: Uint8Array): Uint8Array {
    const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
    for (let i = 0; i < words.length; i++) words[i] = this.next();
    for (let i = words.length * 4; i < out.length; i++) out[i] = this.next() & 0xff;
    return out;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

export interface DataSet {
  readonly dir: string;
  /** Paths relative to `dir`. */
  readonly files: readonly string[];
  readonly fileSize: number;
  readonly totalBytes: number;
}

/** The relative path of file `i`: 100 files per folder, as real trees are not flat. */
export function fileName(i: number, prefix = ""): string {
  return `${prefix}d${String(Math.floor(i / 100)).padStart(4, "0")}/f${
    String(i).padStart(6, "0")
  }.bin`;
}

/** Writes one file of `size` random bytes, in 64 KiB chunks for large files. */
export async function writeRandomFile(path: string, size: number, rng: Random): Promise<void> {
  if (size <= CHUNK * 16) {
    await Deno.writeFile(path, rng.fill(new Uint8Array(size)));
    return;
  }
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(CHUNK);
  for (let done = 0; done < size;) {
    const n = Math.min(CHUNK, size - done);
    const chunk = rng.fill(buf.subarray(0, n));
    for (let off = 0; off < n;) off += await file.write(chunk.subarray(off));
    done += n;
  }
}

/** `count` files of `size` bytes under `dir` (created), written `parallel` at a time. */
export async function generate(
  dir: string,
  count: number,
  size: number,
  seed: number,
  prefix = "",
): Promise<DataSet> {
  const rng = new Random(seed);
  const files = Array.from({ length: count }, (_, i) => fileName(i, prefix));
  const folders = new Set(files.map((f) => f.slice(0, f.lastIndexOf("/"))));
  for (const folder of folders) await Deno.mkdir(`${dir}/${folder}`, { recursive: true });
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const rel = files[next++]!;
      await writeRandomFile(`${dir}/${rel}`, size, rng);
    }
  };
  await Promise.all(Array.from({ length: size > 1 << 20 ? 1 : 8 }, worker));
  return { dir, files, fileSize: size, totalBytes: count * size };
}

/**
 * Rewrites `fraction` of the files with new random bytes of the same size, a different sample each
 * call. With `keepMtime` the old modification time is put back (what `rsync -t`/`cp -p` of an
 * edited file, or a clock skew, can produce), which tools comparing size+mtime cannot see.
 */
export async function touchSample(
  set: DataSet,
  fraction: number,
  rng: Random,
  keepMtime = false,
): Promise<string[]> {
  const count = Math.max(1, Math.round(set.files.length * fraction));
  const picked = new Set<string>();
  while (picked.size < count) picked.add(set.files[rng.below(set.files.length)]!);
  const paths = [...picked].map((rel) => `${set.dir}/${rel}`);
  // `touch -r` keeps the nanoseconds; Deno.stat/utime would round the mtime to milliseconds, a
  // change that tools comparing mtimes exactly (rclone) would see.
  const refs = keepMtime ? await Deno.makeTempDir({ prefix: "s3sync-bench-mtime-" }) : "";
  if (keepMtime) await touchEach(paths.map((p, i) => [p, `${refs}/${i}`]));
  for (const path of paths) await Deno.writeFile(path, rng.fill(new Uint8Array(set.fileSize)));
  if (keepMtime) {
    await touchEach(paths.map((p, i) => [`${refs}/${i}`, p]));
    await Deno.remove(refs, { recursive: true });
  }
  return [...picked];
}

/** `touch -r FROM TO` for each pair (creating TO), in one shell. */
async function touchEach(pairs: readonly (readonly [string, string])[]): Promise<void> {
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      'while (($#)); do touch -r "$1" "$2" || exit 1; shift 2; done',
      "touch",
      ...pairs.flat(),
    ],
  }).output();
  if (!out.success) throw new Error(`touch -r failed: ${new TextDecoder().decode(out.stderr)}`);
}

export async function md5File(path: string): Promise<string> {
  return createHash("md5").update(await Deno.readFile(path)).digest("hex");
}

/** The folder walk of the "list + walk" reference: every regular file with its size. */
export async function walk(
  dir: string,
  out: Map<string, number> = new Map(),
  rel = "",
): Promise<Map<string, number>> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    const key = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory) await walk(path, out, key);
    else if (entry.isFile) out.set(key, (await Deno.lstat(path)).size);
  }
  return out;
}
