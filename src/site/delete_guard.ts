/**
 * The delete guard: `max_delete` caps what a site deletes at once, so that a disk that was not
 * mounted, a watch that failed or an `rm -rf` in the wrong folder cannot empty a bucket
 * (minio/mc#2373 deleted every object that way). Deletes reach it two ways:
 *
 * - A comparison (the walk of the whole folder against the bucket listing) counts the objects it
 *   would delete before it deletes any. Over the cap, it deletes none: the guard trips.
 * - A watched delete waits `holdMs` for company. Those released in the last `WINDOW_MS`, and
 *   those waiting, count together; more than the cap trips the guard before any waiting one goes,
 *   so an `rm -rf` of the tree deletes nothing, not the first half.
 *
 * A tripped guard holds every delete of its site (uploads go on). Held deletes are not kept: the
 * objects stay in the bucket and in the site's listing, and each later comparison counts them
 * again. It lets them go when a comparison finds the count back under the cap (files restored),
 * or when the operator approved exactly that count (`confirm`, or `approve` before a --once run).
 * This module decides; the site and the feeder act and log. A rename is no loss: the delete of an
 * old key whose object a move copied to its new key, verified, is not counted at all, and one whose
 * move may still copy it waits for that outside the count (site_guard.ts).
 * @module
 */

import type { DeleteLimit } from "../config/types.ts";

/** Watched and approved deletes count against the cap for this long. */
export const WINDOW_MS = 10 * 60_000;
/** A watched delete waits this long for others, so that a burst is judged as a whole. */
export const HOLD_MS = 5_000;
/** A share never trips on this many deletes or fewer: every delete is a big share of a tiny site. */
export const SMALL_DELETE = 10;
/** Keys logged and shown in /info when the guard trips. */
export const SAMPLE_SIZE = 10;

/** How many deletes `limit` allows for a site of `objects` objects. */
export function deleteCap(limit: DeleteLimit, objects: number): number {
  if (limit.count !== undefined) return limit.count;
  if (limit.percent >= 100) return Infinity;
  return Math.max(SMALL_DELETE, Math.floor(objects * limit.percent / 100));
}

/** Why the guard holds deletes back. */
export interface Tripped {
  /** Deletes held: what the last comparison (or the watched burst) would have deleted. */
  readonly count: number;
  /** The first of them, in key order (relative paths). */
  readonly sample: readonly string[];
  /** What the cap allowed. */
  readonly cap: number;
  /** Deletes already released within the window when it tripped: they count until it lets go. */
  readonly released: number;
  readonly since: Date;
}

/** A watched delete: go now, wait until `at` and ask again, or held by the tripped guard. */
export type Admission =
  | { readonly verdict: "go" }
  | { readonly verdict: "wait"; readonly at: number }
  | { readonly verdict: "held"; readonly tripped: boolean };

export class DeleteGuard {
  #tripped: Tripped | undefined;
  /** A count the operator approved, used by the next comparison. */
  #approved: number | undefined;
  /** When each recent delete was released, oldest first. */
  #released: number[] = [];
  /** Watched deletes waiting for company, and when each was first asked about. */
  readonly #waiting = new Map<string, number>();
  /** Paths a comparison released: their deletes go without waiting. */
  readonly #cleared = new Set<string>();

  constructor(
    readonly limit: DeleteLimit,
    private readonly now: () => number = Date.now,
    private readonly holdMs = HOLD_MS,
  ) {}

  get tripped(): Tripped | undefined {
    return this.#tripped;
  }

  /** `max_delete: 100%`: nothing to count, nothing waits. */
  get off(): boolean {
    return this.limit.percent !== undefined && this.limit.percent >= 100;
  }

  /** The cap for a site that now has `objects` objects (those deleted in the window added back). */
  cap(objects: number): number {
    return deleteCap(this.limit, objects + this.#recent());
  }

  /**
   * How many paths a comparison should keep while it counts: those past this are only counted,
   * since they will not be deleted unless an approval covers them.
   */
  keepAtMost(objects: number): number {
    return Math.max(this.cap(objects), this.#approved ?? 0);
  }

  /** Before a --once run: the comparison may delete exactly `count` objects, whatever the cap. */
  approve(count: number): void {
    this.#approved = count;
  }

  /**
   * The operator approves the held deletes: only when `count` is what is held now, so that an
   * approval never covers deletes the operator did not see. The next comparison releases them
   * if it still finds exactly that many.
   */
  confirm(count: number): { ok: true } | { ok: false; held: number } {
    const held = this.#tripped?.count ?? 0;
    if (!this.#tripped || count !== held) return { ok: false, held };
    this.#approved = count;
    return { ok: true };
  }

  /**
   * A comparison of `objects` objects would delete `count` (`sample` the first of them). True: they
   * go, and the caller releases each with `clear`. False: the guard trips (or stays tripped).
   */
  compared(count: number, sample: readonly string[], objects: number): boolean {
    const approved = this.#approved;
    this.#approved = undefined;
    const released = Math.max(this.#recent(), this.#tripped?.released ?? 0);
    const cap = deleteCap(this.limit, objects + released);
    if (count === approved) {
      // Approved: these deletes start a new window, or the next few would trip it again.
      this.#released = [];
      this.#tripped = undefined;
      return true;
    }
    if (count + released <= cap) {
      this.#tripped = undefined;
      return true;
    }
    this.#trip(count, sample, cap, released);
    return false;
  }

  /** A comparison released `rel`: its delete goes when its check confirms it. */
  clear(rel: string): void {
    this.#cleared.add(rel);
  }

  /** A delete of `rel` was decided; `objects`: the site's objects now. */
  admit(rel: string, objects: number): Admission {
    const now = this.now();
    if (this.#cleared.delete(rel)) {
      this.#waiting.delete(rel);
      this.#released.push(now);
      return { verdict: "go" };
    }
    if (this.#tripped) return { verdict: "held", tripped: false };
    if (this.off) return { verdict: "go" };
    const first = this.#waiting.get(rel) ?? now;
    this.#waiting.set(rel, first);
    const released = this.#recent();
    const cap = deleteCap(this.limit, objects + released);
    if (released + this.#waiting.size > cap) {
      const sample = [...this.#waiting.keys()].sort().slice(0, SAMPLE_SIZE);
      this.#trip(this.#waiting.size, sample, cap, released);
      this.#waiting.clear();
      return { verdict: "held", tripped: true };
    }
    if (now - first < this.holdMs) return { verdict: "wait", at: first + this.holdMs };
    this.#waiting.delete(rel);
    this.#released.push(now);
    return { verdict: "go" };
  }

  /**
   * The delete of `rel` waits for something other than company (a move that may still copy its
   * object): it stops counting among the waiting until it is asked about again.
   */
  postpone(rel: string): void {
    this.#waiting.delete(rel);
  }

  /** The check of `rel` decided no delete after all (the file came back). */
  forget(rel: string): void {
    this.#waiting.delete(rel);
    this.#cleared.delete(rel);
  }

  #trip(count: number, sample: readonly string[], cap: number, released: number): void {
    const since = this.#tripped?.since ?? new Date(this.now());
    this.#tripped = { count, sample, cap, released, since };
  }

  /** Deletes released within the window. */
  #recent(): number {
    const from = this.now() - WINDOW_MS;
    let old = 0;
    while (old < this.#released.length && this.#released[old]! < from) old++;
    if (old > 0) this.#released.splice(0, old);
    return this.#released.length;
  }
}
