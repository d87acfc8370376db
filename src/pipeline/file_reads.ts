/**
 * Reading a file for an upload: within one memory budget shared by all uploads, in exact ranges,
 * and noticing that the file changed meanwhile (its stamp moved, or it is shorter than it was).
 * @module
 */

import { type FileHandle, open } from "node:fs/promises";
import { ByteBudget } from "../lib/byte_budget.ts";
import { type FileStamp, sameStamp } from "../state/store.ts";
import { MiB } from "./etag.ts";

/**
 * What upload bodies and part buffers may hold at once, all uploads of the process together:
 * with `upload_workers: auto` up to 256 uploads are in flight, and 256 files of 8 MiB must not
 * take 2 GiB. Past it, an upload waits for memory before it reads its file.
 */
export const UPLOAD_MEMORY = new ByteBudget(256 * MiB);

/** The file changed (its stamp or its size) while it was being uploaded. */
export class FileChangedError extends Error {
  constructor(path: string) {
    super(`File "${path}" changed while it was being uploaded`);
    this.name = "FileChangedError";
  }
}

async function stampNow(file: FileHandle): Promise<FileStamp> {
  const info = await file.stat();
  return { size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, ino: info.ino };
}

/**
 * Runs `use` with the file open, and its stamp as it was opened: the upload's metadata describes
 * the file with that stamp. It must still have the size the job saw.
 */
export async function withOpenFile<T>(
  path: string,
  size: number,
  use: (file: FileHandle, stamp: FileStamp) => Promise<T>,
): Promise<T> {
  const file = await open(path, "r");
  try {
    const stamp = await stampNow(file);
    if (stamp.size !== size) throw new FileChangedError(path);
    return await use(file, stamp);
  } finally {
    await file.close();
  }
}

/** Fails when the file's stamp moved since `stamp`: what was read may mix old and new bytes. */
export async function assertUnchanged(
  file: FileHandle,
  stamp: FileStamp,
  path: string,
): Promise<void> {
  if (!sameStamp(await stampNow(file), stamp)) throw new FileChangedError(path);
}

/** Fills `target` from `position`; a file that ends sooner changed. */
export async function readExactly(
  file: FileHandle,
  target: Uint8Array,
  position: number,
  path: string,
): Promise<void> {
  let filled = 0;
  while (filled < target.length) {
    const { bytesRead } = await file.read(
      target,
      filled,
      target.length - filled,
      position + filled,
    );
    if (bytesRead === 0) throw new FileChangedError(path);
    filled += bytesRead;
  }
}
