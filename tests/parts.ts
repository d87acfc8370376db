/**
 * Watching the parts of multipart uploads: a store wrapper that counts each UploadPart by part
 * number and can hold chosen parts until their upload is cancelled, and the multipart ETag a file
 * must get, restated here from S3's rule rather than imported.
 * @module
 */

import { createHash } from "node:crypto";
import type { ObjectStore } from "../src/store/types.ts";

type UploadPart = ObjectStore["uploadPart"];

export class PartGate {
  /** UploadPart requests passed on to the server, by part number. */
  readonly #sent = new Map<number, number>();
  /** Requests the server answered. */
  done = 0;

  /** `hold` picks the part numbers to hold until their signal aborts. */
  constructor(private readonly hold: (partNumber: number) => boolean = () => false) {}

  counts(): Record<number, number> {
    return Object.fromEntries([...this.#sent].sort(([a], [b]) => a - b));
  }

  /** `store` with its UploadPart requests counted (and held); everything else untouched. */
  wrap(store: ObjectStore): ObjectStore {
    const uploadPart: UploadPart = async (key, uploadId, partNumber, body, md5, signal) => {
      if (this.hold(partNumber)) await aborted(signal);
      this.#sent.set(partNumber, (this.#sent.get(partNumber) ?? 0) + 1);
      const part = await store.uploadPart(key, uploadId, partNumber, body, md5, signal);
      this.done++;
      return part;
    };
    return new Proxy(store, {
      get(target, name) {
        if (name === "uploadPart") return uploadPart;
        const value = Reflect.get(target, name, target);
        // Bound, so that the store's private fields are reached through the store itself.
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
}

/** Rejects with the signal's reason once it aborts (never without a signal). */
function aborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

/** S3's ETag for `data` sent in parts of `partSize`: the MD5 of the parts' MD5s, then "-N". */
export function expectedEtag(data: Uint8Array, partSize: number): string {
  const all = createHash("md5");
  let parts = 0;
  for (let at = 0; at < data.length; at += partSize, parts++) {
    all.update(createHash("md5").update(data.subarray(at, at + partSize)).digest());
  }
  return `${all.digest("hex")}-${parts}`;
}
