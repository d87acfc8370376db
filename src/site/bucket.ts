/**
 * A site's reads of its bucket prefix at the start of a comparison: the listing, mapped to local
 * paths, and the clean-up of multipart uploads a killed run left behind.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { listParallel } from "../store/list_parallel.ts";
import type { ObjectStore, RemoteObject } from "../store/types.ts";
import type { KeyMap } from "./keys.ts";

/**
 * Every object under the prefix, page by page in no particular order, as [relative path, object];
 * keys that cannot be a file are left out.
 */
export async function* listPrefix(
  store: ObjectStore,
  keys: KeyMap,
  signal: AbortSignal,
): AsyncGenerator<[string, RemoteObject][]> {
  // Several requests in flight: a million keys are not a thousand round trips in a row.
  for await (const page of listParallel(store, keys.prefix, {}, signal)) {
    const listed: [string, RemoteObject][] = [];
    for (const object of page) {
      const rel = keys.relOf(object.key);
      if (rel !== undefined) listed.push([rel, object]);
    }
    yield listed;
  }
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
