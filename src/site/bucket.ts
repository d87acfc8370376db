/**
 * A site's reads of its bucket prefix at the start of a comparison: the listing, mapped to local
 * paths, and the clean-up of multipart uploads a killed run left behind.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import type { ObjectStore, RemoteObject } from "../store/types.ts";
import type { KeyMap } from "./keys.ts";

/** Every object under the prefix, by relative path; keys that cannot be a file are left out. */
export async function listPrefix(
  store: ObjectStore,
  keys: KeyMap,
  signal: AbortSignal,
): Promise<Map<string, RemoteObject>> {
  const listed = new Map<string, RemoteObject>();
  for await (const page of store.list(keys.prefix, signal)) {
    for (const object of page) {
      const rel = keys.relOf(object.key);
      if (rel !== undefined) listed.set(rel, object);
    }
  }
  return listed;
}

/**
 * Aborts the multipart uploads left under the prefix by a run that was killed: their parts are
 * billed and invisible. Called before the site starts any upload of its own, so none of these can
 * be its own. A failure only costs a warning.
 */
export async function abortStaleUploads(
  store: ObjectStore,
  keys: KeyMap,
  site: string,
  signal: AbortSignal,
): Promise<void> {
  try {
    for (const upload of await store.listMultipartUploads(keys.prefix, signal)) {
      if (keys.relOf(upload.key) === undefined) continue;
      await store.abortMultipart(upload.key, upload.uploadId, signal);
      log.info("aborted an unfinished multipart upload", {
        site,
        key: upload.key,
        started: upload.initiated?.toISOString(),
      });
    }
  } catch (err) {
    if (!signal.aborted) {
      log.warn("cannot clean up unfinished multipart uploads", { site, error: errorMessage(err) });
    }
  }
}
