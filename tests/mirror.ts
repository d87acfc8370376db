/**
 * Whether a bucket mirrors a folder: the same keys, sizes and ETags (the MD5 for one PUT; for parts,
 * the MD5 of the 8 MiB parts' MD5s and "-N", computed here from the file), and no unfinished
 * multipart upload. Shared by the fault and soak tests.
 * @module
 */

import { createHash } from "node:crypto";
import { listBucket, pendingUploads, waitFor } from "./helpers.ts";

export const MiB = 1024 * 1024;
/** The daemon's part size (README: "larger files go in 8 MiB parts"), restated, not imported. */
const PART = 8 * MiB;

export const md5 = (data: Uint8Array | string): string =>
  createHash("md5").update(data).digest("hex");

/** The ETag the daemon's upload must produce for this content. */
function expectedEtag(data: Uint8Array): string {
  if (data.length <= PART) return md5(data);
  const digests: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += PART) {
    digests.push(createHash("md5").update(data.subarray(at, at + PART)).digest());
  }
  const all = new Uint8Array(digests.length * 16);
  digests.forEach((digest, i) => all.set(digest, i * 16));
  return `${md5(all)}-${digests.length}`;
}

/** ETags of local files, remembered while a file's size, mtime and inode stay the same. */
const etagCache = new Map<string, { stamp: string; etag: string }>();

/**
 * Forgets the ETags `localTree` remembered. A file rewritten in place with the same size and its
 * old mtime put back (`cp -p`, `touch -r`) keeps its inode too, and would be taken for unchanged.
 */
export function forgetLocalEtags(): void {
  etagCache.clear();
}

export async function localTree(
  root: string,
  dir = "",
): Promise<Map<string, { size: number; etag: string }>> {
  const tree = new Map<string, { size: number; etag: string }>();
  for await (const entry of Deno.readDir(dir ? `${root}/${dir}` : root)) {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      for (const [sub, file] of await localTree(root, rel)) tree.set(sub, file);
      continue;
    }
    const path = `${root}/${rel}`;
    const info = await Deno.stat(path);
    const stamp = `${info.size} ${info.mtime?.getTime()} ${info.ino}`;
    let cached = etagCache.get(path);
    if (cached?.stamp !== stamp) {
      cached = { stamp, etag: expectedEtag(await Deno.readFile(path)) };
      etagCache.set(path, cached);
    }
    tree.set(rel, { size: info.size, etag: cached.etag });
  }
  return tree;
}

/** How the bucket differs from the tree at `root`; empty when it mirrors it. */
export async function differences(bucket: string, root: string): Promise<string[]> {
  const [local, remote] = [await localTree(root), await listBucket(bucket)];
  const out: string[] = [];
  for (const [rel, file] of local) {
    const object = remote.get(rel);
    if (!object) out.push(`missing ${rel}`);
    else if (object.size !== file.size) out.push(`size ${rel}: ${object.size} != ${file.size}`);
    else if (object.etag !== file.etag) out.push(`etag ${rel}: ${object.etag} != ${file.etag}`);
  }
  for (const key of remote.keys()) if (!local.has(key)) out.push(`extra ${key}`);
  return out.sort();
}

/** Waits until the bucket mirrors the tree, then asserts it and that no multipart upload is left. */
export async function assertConverges(
  bucket: string,
  root: string,
  timeoutMs = 60_000,
): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor("the bucket to mirror the folder", async () => {
      last = await differences(bucket, root);
      return last.length === 0;
    }, timeoutMs);
  } catch (err) {
    const shown = last.slice(0, 20).join("\n  ");
    throw new Error(`${(err as Error).message}; ${last.length} differences:\n  ${shown}`);
  }
  await waitFor(
    "no unfinished multipart upload",
    async () => (await pendingUploads(bucket)).length === 0,
  );
}
