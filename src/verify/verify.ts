/**
 * `--verify`: compares each site with its bucket prefix from scratch and changes nothing. It
 * trusts nothing the state store remembers: every file whose object has its size is hashed, on the
 * hashing threads, and judged by `compareContent`, the one content comparison. Sites are verified
 * one after the other; within a site the walk feeds at most checksum_workers comparisons at once.
 * Consumes the config; produces findings (`onFinding`, as they are found) and a report per site.
 * @module
 */

import type { Config, SiteConfig } from "../config/types.ts";
import { errorMessage } from "../lib/errors.ts";
import { drain, Limiter } from "../lib/limiter.ts";
import { joinLocal } from "../lib/local_paths.ts";
import { log } from "../lib/log.ts";
import { statFile } from "../pipeline/check.ts";
import { compareContent, type Comparer, type Verdict } from "../pipeline/compare.ts";
import { parseEtag } from "../pipeline/etag.ts";
import { HashPool } from "../pipeline/hash_pool.ts";
import { listPrefix } from "../site/bucket.ts";
import { isIncluded, isUnder, KeyMap } from "../site/keys.ts";
import { SiteLinks } from "../site/links.ts";
import { describeFsError, isReadableFolder, walkInKeyOrder } from "../site/walk.ts";
import { ListingStore } from "../state/listing.ts";
import { sameStamp } from "../state/store.ts";
import { createS3Store } from "../store/s3.ts";
import { S3Error } from "../store/s3_error.ts";
import type { ObjectStore, RemoteObject } from "../store/types.ts";
import { type Finding, type Kind, SiteReport } from "./report.ts";

/** A file that changes while it is hashed is hashed again, this many times in all. */
export const ATTEMPTS = 3;

export interface VerifyOptions {
  readonly signal: AbortSignal;
  readonly onFinding: (finding: Finding) => void;
  readonly onSite?: (report: SiteReport) => void;
  /** A site's report as its check begins, filled in as it goes: what progress reads. */
  readonly onSiteStart?: (report: SiteReport) => void;
  /** Tests swap the store; `--verify` uses S3, as the daemon does. */
  readonly createStore?: (site: SiteConfig, maxSockets: number) => ObjectStore;
}

/** Every site of `config`, one after the other; the reports come in the config's order. */
export async function verifyConfig(config: Config, options: VerifyOptions): Promise<SiteReport[]> {
  const hashes = new HashPool(config.checksumWorkers);
  const limiter = new Limiter(config.checksumWorkers);
  const createStore = options.createStore ?? createS3Store;
  const reports: SiteReport[] = [];
  try {
    for (const site of config.sites) {
      const store = createStore(site, config.checksumWorkers);
      const report = await verifySite(site, store, { ...options, hashes, limiter });
      options.onSite?.(report);
      reports.push(report);
    }
  } finally {
    hashes.close();
  }
  return reports;
}

interface SiteRun extends VerifyOptions {
  readonly hashes: HashPool;
  readonly limiter: Limiter;
}

export async function verifySite(
  site: SiteConfig,
  store: ObjectStore,
  run: SiteRun,
): Promise<SiteReport> {
  // The listing is held as SQLite rows, not JS objects: about a seventh of the memory.
  const listings = ListingStore.inMemory();
  try {
    return await verifyWith(listings, site, store, run);
  } finally {
    listings.close();
  }
}

async function verifyWith(
  listings: ListingStore,
  site: SiteConfig,
  store: ObjectStore,
  run: SiteRun,
): Promise<SiteReport> {
  const started = performance.now();
  const report = new SiteReport(site.name);
  run.onSiteStart?.(report);
  const error = (message: string, scope: "local" | "cloud") => {
    report.errors++;
    log.error(message, { site: site.name, scope });
  };
  const find = (kind: Kind, path: string, details?: Finding["details"]) => {
    report.counts[kind]++;
    run.onFinding({ kind, site: site.name, path, details });
  };
  const keys = new KeyMap(site.bucketPath);
  const listed = listings.index((rel) => keys.keyOf(rel));
  try {
    await listed.refresh(listPrefix(store, keys, run.signal));
  } catch (err) {
    run.signal.throwIfAborted();
    error(errorMessage(err), "cloud");
    return finish(report, started);
  }
  if (!await isReadableFolder(site.localPath)) {
    // Reported as an error, not as every object "extra": an unmounted disk looks the same.
    error(`Local folder "${site.localPath}" is missing, not a folder or unreadable`, "local");
    return finish(report, started);
  }

  const unreadable: string[] = [];
  let found = 0;
  const onWalkError = (rel: string, err: unknown) =>
    error(`Cannot read "${rel || "."}": ${describeFsError(err)}`, "local");
  // Links are followed as the daemon follows them, so that both see the same files.
  const links = new SiteLinks(site.localPath, site.followSymlinks);
  const walk = walkInKeyOrder(site.localPath, "", () => true, onWalkError, {
    links,
    site: site.name,
  });
  // Each included file takes its object out of `listed`; what is left has no file.
  async function* included(): AsyncGenerator<[string, RemoteObject | undefined]> {
    for await (const { rel, unreadable: bad } of walk) {
      if (bad) {
        unreadable.push(rel);
        continue;
      }
      found++;
      if (!isIncluded(site, rel)) continue; // its object, if any, stays: retire_deleted deletes it
      report.found++;
      const remote = listed.get(rel);
      listed.delete(rel);
      yield [rel, remote];
    }
  }
  const check: FileCheck = {
    site,
    store,
    hashes: run.hashes,
    report,
    find,
    signal: run.signal,
    links,
  };
  await drain(included(), run.limiter, async ([rel, remote]) => {
    report.files++;
    try {
      await checkFile(check, rel, remote);
    } catch (err) {
      run.signal.throwIfAborted();
      // S3 errors (a failed HEAD) already name the key and the bucket.
      if (err instanceof S3Error) error(errorMessage(err), "cloud");
      else error(`Cannot verify "${rel}": ${describeFsError(err)}`, "local");
    } finally {
      report.checked++;
    }
  }, run.signal);

  // The objects retire_deleted would delete: never under a folder that could not be read, and
  // none when the folder is empty (the daemon deletes nothing then either: a disk not mounted).
  for (const rel of listed.keysUnder("")) {
    if (unreadable.some((dir) => isUnder(rel, dir))) continue;
    if (site.retireDeleted && found > 0) find("extra", rel, { size: listed.get(rel)?.size ?? 0 });
    else report.kept++;
  }
  if (site.retireDeleted && found === 0 && listed.size > 0) {
    log.warn("local folder is empty but the bucket is not; its objects are not reported", {
      site: site.name,
      objects: listed.size,
    });
  }
  return finish(report, started);
}

function finish(report: SiteReport, started: number): SiteReport {
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

interface FileCheck {
  readonly site: SiteConfig;
  readonly store: ObjectStore;
  readonly hashes: HashPool;
  readonly report: SiteReport;
  readonly find: (kind: Kind, path: string, details?: Finding["details"]) => void;
  readonly signal: AbortSignal;
  readonly links: SiteLinks;
}

/** Judges one included file; a file that keeps changing while it is hashed is "changing". */
async function checkFile(
  check: FileCheck,
  rel: string,
  remote: RemoteObject | undefined,
): Promise<void> {
  const { site, report, find, signal } = check;
  const path = joinLocal(site.localPath, rel);
  const comparer: Comparer = {
    store: check.store,
    config: site,
    hash: (file, partSizes, signal, size) => check.hashes.hash(file, partSizes, signal, size),
  };
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const before = await statFile(path, check.links);
    // Gone or replaced by a link or folder since the walk saw it: it is being changed.
    if (!before) break;
    if (!remote) return find("missing", rel, { size: before.size });
    if (remote.size !== before.size) {
      return find("size", rel, { file: before.size, object: remote.size });
    }
    const content = await compareContent(comparer, path, remote, signal);
    report.bytesHashed += content.size;
    const after = await statFile(path, check.links);
    if (after && sameStamp(before, after) && content.size === before.size) {
      return judge(check, rel, remote, content.verdict);
    }
    log.debug("changed while it was verified", { site: site.name, path: rel, attempt });
  }
  find("changing", rel);
}

function judge(check: FileCheck, rel: string, remote: RemoteObject, verdict: Verdict): void {
  const { site, report, find } = check;
  if (verdict === "different") return find("content", rel);
  let equal = verdict === "same";
  if (remote.storageClass !== site.storageClass) {
    equal = false;
    find("storage-class", rel, { object: remote.storageClass, expected: site.storageClass });
  }
  if (verdict === "unknown") find("cannot-verify", rel, { reason: unknownReason(remote) });
  if (equal) report.equal++;
}

function unknownReason(remote: RemoteObject): string {
  const parsed = parseEtag(remote.etag);
  const metadata = "and the object has no s3sync-md5 metadata";
  if (parsed.kind === "multipart") {
    return `multipart ETag of ${parsed.parts} parts of a size that cannot be recomputed, ${metadata}`;
  }
  return `the ETag is not an MD5 (an encrypted object?), ${metadata}`;
}
