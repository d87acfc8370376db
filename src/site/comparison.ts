/**
 * The comparison of a folder with the bucket: the walk of the folder and the site's listing, both
 * in key order, merged with one cursor each (as rclone's march does). It consumes the walk and the
 * listing and produces paths for the checksum stage (`send`): every file, and every object whose
 * file is gone. For the whole folder, those deletes are counted first, for the delete guard. It
 * closes nothing.
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import { compareKeys } from "../lib/key_order.ts";
import { log } from "../lib/log.ts";
import type { ErrorScope } from "../pipeline/context.ts";
import type { RemoteIndex } from "../state/listing.ts";
import { type DeleteGuard, SAMPLE_SIZE } from "./delete_guard.ts";
import { isUnder } from "./keys.ts";
import type { SiteLinks } from "./links.ts";
import type { SiteGuard } from "./site_guard.ts";
import { describeFsError, walkInKeyOrder } from "./walk.ts";

/** What a comparison needs from its site. */
export interface ComparisonHost {
  readonly config: SiteConfig;
  readonly remote: RemoteIndex;
  /** The links its walks follow, and what they found of them. */
  readonly links: SiteLinks;
  readonly guard: SiteGuard;
  rootIsPresent(): Promise<boolean>;
  isIncluded(rel: string): boolean;
  /** Queues one path for the checksum stage (waits while the stage is full). */
  send(rel: string, signal: AbortSignal): Promise<void>;
  recordError(scope: ErrorScope, message: string): void;
}

/**
 * The full comparison: the whole folder against the bucket listing. What it would delete is
 * counted first and goes only when the delete guard lets it.
 */
export async function compareRoot(site: ComparisonHost, signal: AbortSignal): Promise<void> {
  if (!await site.rootIsPresent()) {
    site.recordError(
      "local",
      `Local folder "${site.config.localPath}" is missing, not a folder or unreadable; ` +
        `nothing is uploaded or deleted until it is back`,
    );
    return;
  }
  // Counted before any goes, unless the guard is off: then they go as the walk finds them.
  const counting = site.config.retireDeleted && !site.guard.off;
  const deletes = counting ? new Counted(site.guard, site.remote.size) : undefined;
  const heldBack = await compareDir(site, "", signal, deletes);
  if (deletes && !heldBack && site.guard.judge(deletes.count, deletes.sample)) {
    for (const rel of deletes.kept) {
      site.guard.clear(rel);
      await site.send(rel, signal);
    }
  }
  if (heldBack && site.config.retireDeleted) {
    log.warn(
      "local folder is empty but the bucket is not; deleting nothing, as an unmounted disk " +
        "looks the same (delete the objects by hand if you meant it)",
      { site: site.config.name, objects: site.remote.size },
    );
  }
}

/**
 * Sends every file in and under `dir`, and every object under it whose file is gone: the walk
 * and the index are merged in key order, so memory holds the folders on the walk's path, not
 * the tree. Returns true when it held objects back because the root holds no file. With
 * `deletes`, objects whose file is gone are counted there instead, for the delete guard.
 */
export async function compareDir(
  site: ComparisonHost,
  dir: string,
  signal: AbortSignal,
  deletes?: Counted,
): Promise<boolean> {
  const onError = (rel: string, err: unknown) =>
    site.recordError("local", `Cannot read "${rel || "."}": ${describeFsError(err)}`);
  // Excluded files are dropped by the walk; those with an object come from the index. The
  // walk tells the site again which links are under `dir`.
  site.links.beginWalk(dir);
  const links = { links: site.links, site: site.config.name };
  const keep = (rel: string) => site.isIncluded(rel);
  const walk = walkInKeyOrder(site.config.localPath, dir, keep, onError, links);
  const unmounted = await site.guard.unmountedFolders(dir);
  const objects = site.remote.keysUnder(dir);
  let object = objects.next();
  let found = 0;
  // An empty root may be an unmounted disk: its objects are left alone (see compareRoot). The
  // root is searched for a file only when an object without one comes first.
  let mayRetire = (dir === "" ? undefined : true) as boolean | undefined;
  const sendObjectsBefore = async (rel: string | undefined) => {
    while (!object.done && (rel === undefined || compareKeys(object.value, rel) < 0)) {
      const orphan = object.value;
      object = objects.next();
      if (unmounted.some((point) => isUnder(orphan, point))) continue;
      mayRetire ??= found > 0 || await rootHasAFile(site);
      if (!mayRetire) continue;
      // A delete that loses nothing (a completed move's old key) is not counted: it goes.
      if (deletes && !site.guard.survives(orphan)) deletes.add(orphan);
      else await site.send(orphan, signal);
    }
  };
  for await (const entry of walk) {
    if (entry.unreadable) {
      // Never delete what we could not see.
      await sendObjectsBefore(entry.rel && `${entry.rel}/`);
      while (!object.done && isUnder(object.value, entry.rel)) object = objects.next();
      continue;
    }
    found++;
    await sendObjectsBefore(entry.rel);
    if (object.value === entry.rel) object = objects.next();
    await site.send(entry.rel, signal);
  }
  await sendObjectsBefore(undefined);
  site.links.settle();
  return mayRetire === false && found === 0;
}

async function rootHasAFile(site: ComparisonHost): Promise<boolean> {
  const links = { links: site.links, site: site.config.name };
  const walk = walkInKeyOrder(site.config.localPath, "", () => true, () => {}, links);
  for await (const entry of walk) if (!entry.unreadable) return true;
  return false;
}

/** What a comparison would delete: the count, the first few, and as many as could go. */
class Counted {
  count = 0;
  readonly sample: string[] = [];
  readonly kept: string[] = [];
  readonly #keep: number;

  constructor(guard: DeleteGuard, objects: number) {
    this.#keep = guard.keepAtMost(objects);
  }

  add(rel: string): void {
    this.count++;
    if (this.sample.length < SAMPLE_SIZE) this.sample.push(rel);
    if (this.kept.length < this.#keep) this.kept.push(rel);
  }
}
