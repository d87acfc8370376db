/**
 * A site's delete guard: the decisions of delete_guard.ts and mounts.ts, with what the site does
 * about them: the warning when it trips (once per count), the comparison a trip or a confirmation
 * asks for, the error that names an unmounted disk (once, until it is back), and the keys /info
 * shows. It also knows which deletes lose nothing: those of old keys that a move copied, verified,
 * to a new key that still holds the copy.
 * @module
 */

import type { SiteConfig } from "../config/types.ts";
import { log } from "../lib/log.ts";
import type { ErrorScope } from "../pipeline/context.ts";
import type { RemoteObject } from "../store/types.ts";
import { type Admission, DeleteGuard, HOLD_MS, type Tripped } from "./delete_guard.ts";
import { isUnder } from "./keys.ts";
import { type MountMemory, pointsUnder, unmounted } from "./mounts.ts";

/** What the guard needs from its site. */
export interface GuardHost {
  readonly config: SiteConfig;
  readonly remote: { readonly size: number; get(rel: string): RemoteObject | undefined };
  keyOf(rel: string): string;
  localPath(rel: string): string;
  /** True while a rename may still copy `rel`'s object to its new path. */
  isMoveSource(rel: string): boolean;
  requestReconcile(): void;
  recordError(scope: ErrorScope, message: string): void;
}

export class SiteGuard extends DeleteGuard {
  /** Mount points found unmounted and reported, until they are back. */
  readonly #unmounted = new Set<string>();
  /**
   * Old paths whose object a move copied to a new path, with the ETags on both sides right after
   * the copy: old path -> { to, from: its ETag, copy: the new key's }.
   */
  readonly #movedAway = new Map<string, { to: string; from: string; copy: string }>();

  constructor(
    private readonly site: GuardHost,
    private readonly mounts: MountMemory | undefined,
    once: boolean,
  ) {
    // A run that ends has no later look to come back for a waiting delete: nothing waits then.
    super(site.config.maxDelete, Date.now, once ? 0 : HOLD_MS);
  }

  /** A delete of `rel` was decided by its check. */
  admitDelete(rel: string): Admission {
    // Its bytes are in the bucket under the new key: nothing is lost, so nothing is counted, and
    // a guard tripped by other deletes has no reason to hold it.
    if (this.survives(rel)) {
      this.forget(rel);
      return { verdict: "go" };
    }
    if (this.site.isMoveSource(rel)) {
      // A move may still copy it: it waits for the copy (then it goes, uncounted) or for the move
      // to expire without one (then it counts like any delete).
      this.postpone(rel);
      return { verdict: "wait", at: Date.now() + this.site.config.watchIntervalMs };
    }
    const admission = this.admit(rel, this.site.remote.size);
    if (admission.verdict === "held" && admission.tripped) {
      this.#report("watched deletes");
      // The comparison counts exactly what would go, which is what an operator approves.
      this.site.requestReconcile();
    }
    return admission;
  }

  /**
   * A move's copy of `from` to `to` was made and verified against the file's bytes: `fromEtag` is
   * the source ETag the copy was pinned to, `copyEtag` the new key's.
   */
  moved(from: string, to: string, fromEtag: string, copyEtag: string): void {
    if (!this.site.config.retireDeleted) return; // no delete will ask
    this.#movedAway.set(from, { to, from: fromEtag, copy: copyEtag });
  }

  /**
   * True when deleting `rel` loses nothing: a move copied its object, as the bucket still holds it,
   * to a new key that still holds that copy. A proposed move, a copy that failed or became an
   * upload, or either key changed since, is no survival.
   */
  survives(rel: string): boolean {
    const move = this.#movedAway.get(rel);
    if (!move) return false;
    const old = this.site.remote.get(rel);
    if (old?.etag !== move.from) {
      // Deleted, or rewritten since: this record speaks for an object that is no longer there.
      this.#movedAway.delete(rel);
      return false;
    }
    return this.site.remote.get(move.to)?.etag === move.copy;
  }

  /** A comparison would delete `count` objects (`sample` the first): true when they may go. */
  judge(count: number, sample: readonly string[]): boolean {
    const before = this.tripped;
    // Old paths whose object is gone from the listing need no record any more.
    for (const rel of this.#movedAway.keys()) this.survives(rel);
    const go = this.compared(count, sample, this.site.remote.size);
    if (go && before) {
      log.info("delete guard released: the deletes are under max_delete or were confirmed", {
        site: this.site.config.name,
        deletes: count,
      });
    }
    if (!go && before?.count !== count) this.#report("a comparison");
    return go;
  }

  /** The operator approves the `count` deletes held back: a comparison releases them at once. */
  confirmDeletes(count: number): { ok: true } | { ok: false; held: number } {
    const result = this.confirm(count);
    if (result.ok) {
      log.info("held deletes confirmed", { site: this.site.config.name, deletes: count });
      this.site.requestReconcile();
    }
    return result;
  }

  /** What is held, with the sample as keys, for /info. */
  trippedWithKeys(): Tripped | undefined {
    const tripped = this.tripped;
    return tripped && { ...tripped, sample: tripped.sample.map((rel) => this.site.keyOf(rel)) };
  }

  /**
   * The mount points in or at `dir` whose disk is not mounted (see mounts.ts): nothing under them
   * is deleted. Each is reported once, until it is back.
   */
  async unmountedFolders(dir: string): Promise<string[]> {
    const { site } = this;
    if (!this.mounts || !site.config.retireDeleted) return [];
    const root = site.config.localPath;
    const known = pointsUnder(root, await this.mounts.points())
      .filter((rel) => rel === dir || isUnder(rel, dir));
    const found = await unmounted(root, known);
    for (const rel of known) if (!found.includes(rel)) this.#unmounted.delete(rel);
    for (const rel of found) {
      if (this.#unmounted.has(rel)) continue;
      this.#unmounted.add(rel);
      site.recordError(
        "local",
        `Folder "${site.localPath(rel)}" was a mount point and is now an empty folder on its ` +
          `parent's device: a disk that is not mounted; nothing under it is deleted until it is back`,
      );
    }
    return found;
  }

  #report(by: string): void {
    const tripped = this.trippedWithKeys();
    if (!tripped) return;
    log.warn(
      `delete guard tripped: ${by} would delete more objects than max_delete allows; ` +
        `deleting none until they are confirmed (POST /confirm-delete?site=...&count=N, or ` +
        `--confirm-delete with --once) or fewer are missing`,
      {
        site: this.site.config.name,
        deletes: tripped.count,
        cap: tripped.cap,
        recently_deleted: tripped.released,
        sample: tripped.sample.join(", "),
      },
    );
  }
}
