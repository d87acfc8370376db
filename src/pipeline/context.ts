/**
 * What the checksum and upload stages need from a site, and the counters they keep for it. The
 * stages see this narrow shape, never the site itself.
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import type { SiteState } from "../state/store.ts";
import type { ObjectStore, RemoteObject } from "../store/types.ts";
import type { LinkRule, LocalFile } from "./check.ts";
import type { Comparer } from "./compare.ts";
import type { Hashed } from "./transfer.ts";

export type ErrorScope = "local" | "cloud" | "watcher";

export class SiteStats {
  checked = 0;
  uploaded = 0;
  copied = 0;
  deleted = 0;
  bytesUploaded = 0;
  failedJobs = 0;
  errors: Record<ErrorScope, number> = { local: 0, cloud: 0, watcher: 0 };
  lastError: string | undefined;
  lastErrorAt: Date | undefined;
  lastSyncAt: Date | undefined;
  /** When the last full comparison with the bucket finished walking the folder. */
  lastReconcileAt: Date | undefined;

  recordError(scope: ErrorScope, message: string): void {
    this.errors[scope]++;
    this.lastError = message;
    this.lastErrorAt = new Date();
  }

  get errorCount(): number {
    return this.errors.local + this.errors.cloud + this.errors.watcher;
  }
}

/**
 * One change the upload stage makes; `rel` is the path relative to the site's local_path. A copy
 * (onto itself for a storage class, or from a rename's old key) carries the source ETag that was
 * verified to hold the file's bytes, and the file's stamp when it was verified.
 */
export type Action =
  | { readonly kind: "upload"; readonly rel: string; readonly hashed?: Hashed }
  | {
    readonly kind: "copy";
    readonly rel: string;
    readonly etag: string;
    readonly file: LocalFile;
  }
  | {
    readonly kind: "move";
    readonly rel: string;
    readonly from: string;
    readonly etag: string;
    readonly file: LocalFile;
  }
  | { readonly kind: "delete"; readonly rel: string };

/** What we believe is in the bucket, by relative path: from the listing, then kept up to date. */
export interface RemoteObjects {
  get(rel: string): RemoteObject | undefined;
  has(rel: string): boolean;
  set(rel: string, object: RemoteObject): void;
  delete(rel: string): boolean;
}

/** What the checksum and upload stages need; `hash` and `store` serve `compareContent` too. */
export interface SiteContext extends Comparer {
  readonly config: SiteConfig;
  readonly store: ObjectStore;
  readonly remote: RemoteObjects;
  readonly stats: SiteStats;
  /** The state store's rows for this site. */
  readonly state: SiteState;
  readonly dryRun: boolean;
  /**
   * True (once) when the watcher reported a change of `rel` itself since it was last checked: its
   * state store row must not be trusted, as a rewrite can keep the stamp.
   */
  takeTouched(rel: string): boolean;
  /** Old paths of a file the watcher saw being renamed to `rel` (or moved with a folder). */
  moveSourcesFor(rel: string): string[];
  /** True while `rel` may still be the source of a rename's copy: its delete waits. */
  isMoveSource(rel: string): boolean;
  /**
   * A rename's copy of `from` to `rel` was made and verified against the file's bytes: `fromEtag`
   * is the source ETag it was pinned to, `etag` the new key's. The old key's delete loses nothing.
   */
  moveCopied(from: string, rel: string, fromEtag: string, etag: string): void;
  keyOf(rel: string): string;
  localPath(rel: string): string;
  /** How the site treats symlinks; absent: links are no files. */
  readonly links?: LinkRule;
  isIncluded(rel: string): boolean;
  /** Deletes one object, batched with the site's other deletes. */
  deleteObject(key: string): Promise<void>;
  /** Reports how long one upload took, for the duration histogram. */
  observeUpload(seconds: number): void;
  /** The guard against mass deletion: false when local_path is missing, not a folder or unreadable. */
  rootIsPresent(): Promise<boolean>;
}
