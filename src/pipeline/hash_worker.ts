/**
 * A hashing thread: receives `{ id, path, partSizes }`, answers `{ id, digest }` or `{ id, error }`.
 * Hashing here keeps the event loop that drives uploads free.
 * @module
 */

import { hashFile } from "./hash.ts";

interface Job {
  readonly id: number;
  readonly path: string;
  readonly partSizes: number[];
}

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<Job>) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = async ({ data: { id, path, partSizes } }) => {
  try {
    const digest = await hashFile(path, partSizes);
    scope.postMessage({ id, digest: { ...digest, etags: [...digest.etags] } });
  } catch (err) {
    const { name, message, code } = err as { name?: string; message?: string; code?: string };
    scope.postMessage({ id, error: { name, message, code } });
  }
};
