/**
 * Reads a file once, in large sequential blocks, and computes its MD5 together with the multipart
 * ETags it would have for each of the given part sizes.
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { open } from "node:fs/promises";
import { multipartEtag } from "./etag.ts";

/** What one hash holds in memory while it reads: an upload that hashes first budgets for it. */
export const BLOCK_SIZE = 4 * 1024 * 1024;
/** The smallest read; a file of known small size is read in one block of its size. */
const MIN_BLOCK_SIZE = 64 * 1024;

export interface FileDigest {
  /** Bytes actually read; differs from the stat size when the file changed meanwhile. */
  readonly size: number;
  readonly md5: string;
  /** Multipart ETag for each requested part size. */
  readonly etags: ReadonlyMap<number, string>;
}

class PartHasher {
  #digests: Uint8Array[] = [];
  #hash: Hash = createHash("md5");
  #filled = 0;
  constructor(readonly partSize: number) {}

  update(block: Uint8Array): void {
    let offset = 0;
    while (offset < block.length) {
      const take = Math.min(this.partSize - this.#filled, block.length - offset);
      this.#hash.update(block.subarray(offset, offset + take));
      this.#filled += take;
      offset += take;
      if (this.#filled === this.partSize) this.#cut();
    }
  }

  etag(): string {
    if (this.#filled > 0 || this.#digests.length === 0) this.#cut();
    return multipartEtag(this.#digests);
  }

  #cut(): void {
    this.#digests.push(this.#hash.digest());
    this.#hash = createHash("md5");
    this.#filled = 0;
  }
}

/** `size` is what the file is expected to hold: a small file then costs a small buffer, not 4 MiB. */
export async function hashFile(
  path: string,
  partSizes: readonly number[] = [],
  signal?: AbortSignal,
  size?: number,
): Promise<FileDigest> {
  const file = await open(path, "r");
  try {
    const whole = createHash("md5");
    const parts = partSizes.map((size) => new PartHasher(size));
    // One byte over the expected size, so that the end is seen in the first read.
    const blockSize = size === undefined
      ? BLOCK_SIZE
      : Math.min(BLOCK_SIZE, Math.max(MIN_BLOCK_SIZE, size + 1));
    const buffer = new Uint8Array(blockSize);
    let read = 0;
    while (true) {
      signal?.throwIfAborted();
      const { bytesRead } = await file.read(buffer, 0, blockSize, null);
      if (bytesRead === 0) break;
      const block = buffer.subarray(0, bytesRead);
      whole.update(block);
      for (const part of parts) part.update(block);
      read += bytesRead;
    }
    const etags = new Map(parts.map((part) => [part.partSize, part.etag()] as const));
    return { size: read, md5: whole.digest("hex"), etags };
  } finally {
    await file.close();
  }
}
