/**
 * A site's reads of its bucket prefix at the start of a comparison: the listing, mapped to local
 * paths, and the clean-up of multipart uploads a stopped or killed run left behind.
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { type LinkRule, statFile } from "../pipeline/check.ts";
import { abandonUpload } from "../pipeline/resume.ts";
import { sameStamp, type SiteState } from "../state/store.ts";
import { listParallel } from "../store/list_parallel.ts";
import type { ObjectStore, PendingUpload, RemoteObject } from "../store/types.ts";
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

/** What the clean-up of unfinished uploads needs from its site. */
export interface UploadsHost {
  readonly store: ObjectStore;
  readonly keys: KeyMap;
  readonly config: Pick<SiteConfig, "name">;
  readonly links?: LinkRule;
  readonly state: Pick<SiteState, "uploads">;
  localPath(rel: string): string;
  isIncluded(rel: string): boolean;
}

/**
 * Aborts the multipart uploads a stopped or killed run left under the prefix (their parts are
 * billed and invisible), except those of ours that can resume: recorded in the state store, for a
 * file that is still there, included, and unchanged. Those wait for their file's job, which either
 * resumes one or, needing no upload after all, drops it (`dropUnusedUpload`). Records of uploads
 * the server no longer lists are forgotten. `unfinished` is the server's list of them, asked for
 * before the site started any upload of its own, so none of these can be in flight. A failure only
 * costs a warning.
 */
export async function abortStaleUploads(
  site: UploadsHost,
  unfinished: Promise<PendingUpload[]>,
  signal: AbortSignal,
): Promise<void> {
  const { store, keys } = site;
  const { uploads } = site.state;
  const name = site.config.name;
  try {
    const kept = new Set<string>();
    for (const upload of await unfinished) {
      const rel = keys.relOf(upload.key);
      if (rel === undefined) continue;
      const record = uploads.get(upload.key)?.record;
      if (record?.uploadId === upload.uploadId) {
        // A file that cannot be read now is as good as gone: its upload could not go on.
        const file = site.isIncluded(rel)
          ? await statFile(site.localPath(rel), site.links).catch(() => undefined)
          : undefined;
        if (sameStamp(file, record.file)) {
          kept.add(upload.key);
          log.debug("kept an unfinished multipart upload to resume", {
            site: name,
            key: upload.key,
          });
          continue;
        }
        uploads.forget(upload.key, upload.uploadId);
      }
      await store.abortMultipart(upload.key, upload.uploadId, signal);
      log.info("aborted an unfinished multipart upload", {
        site: name,
        key: upload.key,
        started: upload.initiated?.toISOString(),
      });
    }
    // Completed, aborted or expired behind our back: nothing left to resume.
    for (const record of uploads.all()) {
      if (!kept.has(record.key)) uploads.forget(record.key, record.uploadId);
    }
  } catch (err) {
    if (!signal.aborted) {
      log.warn("cannot clean up unfinished multipart uploads", {
        site: name,
        error: errorMessage(err),
      });
    }
  }
}

/**
 * A job for `rel` ended without using the upload recorded for its key (the file needed no upload,
 * a copy, a delete, or a single PUT): nothing would ever resume it, so it is aborted. Uploads a job
 * did use are completed or aborted by it, and a stop ends no job this way.
 */
export async function dropUnusedUpload(
  site: UploadsHost,
  rel: string,
  signal: AbortSignal,
): Promise<void> {
  const key = site.keys.keyOf(rel);
  const record = site.state.uploads.get(key)?.record;
  if (!record || signal.aborted) return;
  const resume = { uploads: site.state.uploads, site: site.config.name };
  await abandonUpload(site.store, resume, key, record.uploadId, "no upload of the file needs it");
}
