/**
 * Lists a bucket prefix with several ListObjectsV2 requests in flight. Consumes `listPage` of an
 * object store; produces pages of objects in no particular order, every object under the prefix
 * exactly once. The caller owns the generator: its signal, or leaving the loop early, stops every
 * request in flight, and the generator returns only once they have all ended. The first request
 * that fails for good (each is retried on its own) fails the whole listing.
 *
 * Where to cut, counted in requests (N keys, 1,000 to a page):
 * - A flat listing costs N / 1,000 requests, one after the other.
 * - Walking the tree with Delimiter "/" costs a request per folder at least: ten times the flat
 *   count for folders of 100 files. So folders are looked up only to find where to cut.
 * - Here the listing starts flat, as one range. A range is cut only when a page comes back
 *   truncated while fewer than `concurrency` ranges run: into no more parts than there are idle
 *   slots, nor than half the pages it likely holds (each part ends with a partial page). A prefix
 *   that fits in one page still costs one request; a big one N / 1,000 and a few per cut.
 * - Cut points, best first: folder starts, from a Delimiter request on the shallowest folder the
 *   rest of the range spans (one level deeper, at most twice, while too few), handed down to the
 *   parts so that later cuts seldom look again; with the end unknown, the ends of the blocks of
 *   keys sharing ever fewer leading characters with the last key; else a key halfway between,
 *   among the characters the page's keys vary in.
 * - There are no separate probes: the first page of a part is its probe. A part that turns out
 *   empty costs one request; one that does not costs nothing extra.
 *
 * A part is a half-open range [lo, hi) in S3's key order (UTF-8 bytes, that is code points),
 * filtered here as well as bounded by the server, so the parts partition the prefix exactly,
 * whatever the StartAfter in front of a part skipped or did not.
 * @module
 */

import { compareKeys } from "../lib/key_order.ts";
import { alphabet, below, ladder, lookupFolder, pagesIn, splitPoints, spread } from "./key_cuts.ts";
import type { ObjectStore, RemoteObject } from "./types.ts";

/** What listing needs of a store. */
export type Listable = Pick<ObjectStore, "bucket" | "list" | "listPage">;

export interface ListParallelOptions {
  /** Requests in flight at most; 1 lists sequentially. */
  readonly concurrency?: number;
}

/**
 * Measured with scripts/bench/list_probe.ts on a two-core Ceph RGW holding 100,000 keys in 1,000
 * folders: 5.0 s sequential, 1.56 s with 4 in flight, 1.54 s with 8, 1.33 s with 16; past 4 the
 * server's two cores are the limit. Against AWS, where each page waits 50-100 ms on the network,
 * 8 in flight make 80-160 LISTs a second, far from the thousands a prefix is allowed, and each
 * request in flight holds one socket of the site's pool, which uploads share.
 */
export const DEFAULT_LIST_CONCURRENCY = 8;

/** Folder levels one cut may look up: the shallowest the range spans, and two below it. */
const LOOKUP_LEVELS = 3;

/** The fewest pages a part is expected to hold. */
const MIN_PART_PAGES = 2;

/** Pages listed ahead of the consumer, per request in flight, before listing waits. */
const PAGES_AHEAD = 2;

/** Every object under `prefix`, one page after another, in key order: the plain ListObjectsV2 loop. */
export async function* listSequential(
  store: Pick<ObjectStore, "listPage">,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<RemoteObject[]> {
  let token: string | undefined;
  do {
    const page = await store.listPage(prefix, { continuationToken: token }, signal);
    yield page.objects;
    token = page.next;
  } while (token);
}

/** Every object under `prefix` ("" for the whole bucket), page by page, in no particular order. */
export async function* listParallel(
  store: Listable,
  prefix: string,
  options: ListParallelOptions = {},
  signal?: AbortSignal,
): AsyncGenerator<RemoteObject[]> {
  const concurrency = options.concurrency ?? DEFAULT_LIST_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`The listing concurrency must be a whole number of at least 1`);
  }
  // Directory buckets (S3 Express One Zone, names ending in "--x-s3") do not list keys in
  // lexicographic order, and StartAfter does not bound a range there: only the sequential
  // listing is right for them.
  if (store.bucket.endsWith("--x-s3")) {
    yield* store.list(prefix, signal);
    return;
  }
  yield* new ParallelLister(store, prefix, concurrency, signal).pages();
}

interface Range {
  /** Inclusive; undefined from the start of the prefix. */
  readonly lo: string | undefined;
  /** Exclusive; undefined to the end of the prefix. Shrinks when the range is cut. */
  hi: string | undefined;
  /** Folder starts known to lie inside the range, in key order. */
  marks: string[];
  /** Whether a lookup found this part of the tree already, so another would add little. */
  looked: boolean;
  /** Pages listed since the range started, or since it passed the last of its `marks`. */
  pages: number;
  /** With no `hi`: whether keys may lie past the last of `marks` (no lookup saw the end yet). */
  open: boolean;
}

class ParallelLister {
  readonly #store: Listable;
  readonly #prefix: string;
  readonly #concurrency: number;
  readonly #userSignal: AbortSignal | undefined;
  /** Aborted on the first failure, or when the consumer stops: ends every request in flight. */
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  readonly #ready: RemoteObject[][] = [];
  readonly #tasks = new Set<Promise<void>>();
  /** Ranges listing, and slots a cut in progress has claimed for its parts. */
  #live = 0;
  #claimed = 0;
  #failure: { error: unknown } | undefined;
  #changed = Promise.withResolvers<void>();

  constructor(store: Listable, prefix: string, concurrency: number, signal?: AbortSignal) {
    this.#store = store;
    this.#prefix = prefix;
    this.#concurrency = concurrency;
    this.#userSignal = signal;
    this.#signal = signal ? AbortSignal.any([signal, this.#stop.signal]) : this.#stop.signal;
  }

  async *pages(): AsyncGenerator<RemoteObject[]> {
    this.#start({ lo: undefined, hi: undefined, marks: [], looked: false, pages: 0, open: true });
    try {
      for (;;) {
        this.#userSignal?.throwIfAborted();
        if (this.#failure) throw this.#failure.error;
        const page = this.#ready.shift();
        if (page) {
          this.#notify();
          yield page;
        } else if (this.#tasks.size === 0) {
          return;
        } else {
          // Every task notifies when it lists a page, fails or ends, aborted ones included.
          await this.#changed.promise;
        }
      }
    } finally {
      this.#stop.abort();
      await Promise.allSettled([...this.#tasks]);
    }
  }

  #notify(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers();
  }

  #idle(): number {
    return this.#concurrency - this.#live - this.#claimed;
  }

  #start(range: Range): void {
    this.#live++;
    const task: Promise<void> = this.#listRange(range)
      .catch((error) => {
        if (this.#stop.signal.aborted) return;
        this.#failure = { error };
        this.#stop.abort();
      })
      .finally(() => {
        this.#live--;
        this.#tasks.delete(task);
        this.#notify();
      });
    this.#tasks.add(task);
  }

  async #listRange(range: Range): Promise<void> {
    let token: string | undefined;
    let previous: string | undefined;
    for (;;) {
      while (this.#ready.length >= PAGES_AHEAD * this.#concurrency) {
        await untilAborted(this.#changed.promise, this.#signal);
      }
      const page = await this.#store.listPage(
        this.#prefix,
        token ? { continuationToken: token } : { startAfter: range.lo && below(range.lo) },
        this.#signal,
      );
      const objects: RemoteObject[] = [];
      let past = false;
      for (const object of page.objects) {
        // The cuts and the stop at `hi` rely on the order; a server that breaks it stops the
        // listing rather than silently losing keys.
        if (previous !== undefined && compareKeys(object.key, previous) <= 0) {
          throw new Error(
            `Cannot list bucket "${this.#store.bucket}" in parallel: its listing is out of ` +
              `order ("${object.key}" came after "${previous}")`,
          );
        }
        previous = object.key;
        if (range.hi !== undefined && compareKeys(object.key, range.hi) >= 0) past = true;
        else if (range.lo === undefined || compareKeys(object.key, range.lo) >= 0) {
          objects.push(object);
        }
      }
      if (objects.length) {
        this.#ready.push(objects);
        this.#notify();
      }
      if (past || !page.next) return;
      token = page.next;
      // What a range listed since it entered its current folder is what tells how big that is.
      let passed = 0;
      while (passed < range.marks.length && compareKeys(range.marks[passed]!, previous!) <= 0) {
        passed++;
      }
      if (passed) [range.marks, range.pages] = [range.marks.slice(passed), 0];
      range.pages++;
      // Cut points lie after the page's last key, so it must be inside the range for them to be.
      const keys = page.objects.map((object) => object.key);
      const inside = range.lo === undefined || compareKeys(keys.at(-1) ?? "", range.lo) >= 0;
      if (keys.length && inside && this.#idle() > 0) await this.#cut(range, keys);
    }
  }

  /**
   * Gives the rest of `range`, after the last of `keys` (its last page), to new ranges: as many as
   * there are idle slots, and fewer than the pages it is likely to hold, since each part ends with
   * a partial page.
   */
  async #cut(range: Range, keys: string[]): Promise<void> {
    const last = keys.at(-1)!;
    const wanted = this.#idle();
    this.#claimed += wanted;
    let marks = range.marks;
    // Pages ahead: unknown to the end of the prefix, so many; or what the known folders hold,
    // each folder as big as the one being listed has been so far (a page, or several); or, with
    // none known, as many again as the range has listed: it is at least that big.
    const ahead = () => {
      if (range.hi === undefined && range.open) return Infinity;
      return (marks.length ? pagesIn(marks, keys) : 1) * range.pages;
    };
    let points: string[] = [];
    try {
      if (marks.length === 0 && !range.looked && ahead() >= 2) {
        const found = await this.#lookup(last, range.hi, wanted);
        marks = range.marks = found.marks;
        // Only folders found to the end tell how much is left; none found tell nothing.
        if (range.hi === undefined) range.open = found.open || marks.length === 0;
        // Once these are passed, a lookup one level deeper may find more.
        range.looked = marks.length === 0;
      }
      // Parts of a page or less would cost about as many requests as they save.
      const count = Math.min(wanted, Math.floor(ahead() / MIN_PART_PAGES) - 1);
      if (count >= 1) points = cutPoints(range, marks, keys, this.#prefix, count);
    } finally {
      this.#claimed -= wanted;
    }
    if (points.length === 0) return;
    const ends = [...points.slice(1), range.hi];
    points.forEach((lo, i) => {
      const hi = ends[i];
      const inside = marks.filter((m) =>
        compareKeys(m, lo) > 0 && (hi === undefined || compareKeys(m, hi) < 0)
      );
      // Parts of a flat folder hold no folders; a lookup there would only cost a request.
      this.#start({
        lo,
        hi,
        marks: inside,
        looked: marks.length === 0,
        pages: 0,
        open: range.open,
      });
    });
    range.hi = points[0];
    range.marks = marks.filter((mark) => compareKeys(mark, points[0]!) < 0);
  }

  /**
   * Folder starts after `last` and before `hi`: Delimiter "/" requests, shallowest first. `open`
   * unless the first showed all there is after `last`.
   */
  async #lookup(
    last: string,
    hi: string | undefined,
    wanted: number,
  ): Promise<{ marks: string[]; open: boolean }> {
    const found: string[] = [];
    let open = true;
    let folder = lookupFolder(last, hi, this.#prefix);
    for (let level = 0; level < LOOKUP_LEVELS; level++) {
      const page = await this.#store.listPage(
        folder,
        { delimiter: "/", startAfter: last },
        this.#signal,
      );
      if (level === 0) open = page.next !== undefined;
      for (const prefix of page.prefixes) {
        const after = compareKeys(prefix, last) > 0;
        if (after && (hi === undefined || compareKeys(prefix, hi) < 0)) found.push(prefix);
      }
      if (found.length >= wanted) break;
      // The folder that holds `last`: its later sub-folders are the cuts nearer to it.
      const slash = last.indexOf("/", folder.length);
      if (slash < 0) break;
      folder = last.slice(0, slash + 1);
    }
    return { marks: found.sort(compareKeys), open };
  }
}

/** Up to `count` keys to cut `range` at, after its page of `keys`. */
function cutPoints(
  range: Range,
  marks: string[],
  keys: string[],
  prefix: string,
  count: number,
): string[] {
  if (marks.length) return spread(marks, count);
  const chars = alphabet(keys);
  // Halving blind, one cut at a time: a wrong guess costs one request, not `count`.
  if (range.hi !== undefined) return splitPoints(keys.at(-1)!, range.hi, prefix, 2, chars);
  // A page that varies at the first character or so after the prefix is spread thin over all the
  // keys (hashes, say): halve among those. One that varies further on climbs a ladder.
  const rungs = ladder(keys[0]!, keys.at(-1)!, prefix);
  if (rungs.length >= 2) return rungs.slice(0, count);
  return splitPoints(keys.at(-1)!, undefined, prefix, count + 1, chars);
}

/** Resolves with `promise`, or rejects with the signal's reason as soon as it aborts. */
function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
