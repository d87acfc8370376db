/**
 * Paths to look at, each at its own time: the watcher's events after their quiet time, jobs to
 * look at again, parked retries. A later time for a path replaces the earlier one. The feeder
 * takes what is due and sleeps until the next deadline; an earlier deadline wakes it.
 *
 * Deadlines live in a binary heap beside the map, so a burst of a million events costs
 * O(log n) each, never a scan of every due path. A replaced deadline leaves its old heap entry
 * behind, skipped when it comes up; the heap is rebuilt when such entries outnumber live ones.
 * @module
 */

import { Wakeup } from "../lib/wakeup.ts";

interface Entry {
  readonly at: number;
  readonly rel: string;
}

export class DuePaths {
  readonly #at = new Map<string, number>();
  #heap: Entry[] = [];
  readonly #wakeup = new Wakeup();
  /** When the current sleep ends (0 while awake). */
  #sleepingUntil = 0;

  get size(): number {
    return this.#at.size;
  }

  /** Look at `rel` at `at` (ms since epoch). */
  set(rel: string, at: number): void {
    this.#at.set(rel, at);
    this.#push({ at, rel });
    if (this.#heap.length > 2 * this.#at.size + 1024) this.#rebuild();
    // Only an earlier deadline than the one slept for is worth waking the sleeper for.
    if (at < this.#sleepingUntil) this.#wakeup.wake();
  }

  /** Ends the current sleep (or the next one) now. */
  wake(): void {
    this.#wakeup.wake();
  }

  /** Removes and returns the paths due at `now`, earliest first. */
  takeDue(now: number): string[] {
    const due: string[] = [];
    for (let top = this.#live(); top && top.at <= now; top = this.#live()) {
      this.#pop();
      this.#at.delete(top.rel);
      due.push(top.rel);
    }
    return due;
  }

  /** The earliest deadline, or `limit` if that is sooner. */
  next(limit: number): number {
    return Math.min(limit, this.#live()?.at ?? Infinity);
  }

  /** Sleeps until `until`, a `wake()`, an earlier deadline, or `signal`. */
  async sleep(until: number, signal: AbortSignal): Promise<void> {
    this.#sleepingUntil = until;
    try {
      await this.#wakeup.wait(until - Date.now(), signal);
    } finally {
      this.#sleepingUntil = 0;
    }
  }

  /** The top entry once stale ones (replaced deadlines) are dropped. */
  #live(): Entry | undefined {
    for (let top = this.#heap[0]; top; top = this.#heap[0]) {
      if (this.#at.get(top.rel) === top.at) return top;
      this.#pop();
    }
    return undefined;
  }

  #rebuild(): void {
    this.#heap = [];
    for (const [rel, at] of this.#at) this.#push({ at, rel });
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    let i = heap.push(entry) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let i = 0;
    while (true) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= last.at) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}
