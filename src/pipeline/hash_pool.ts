/**
 * Hashing on worker threads, so that both cores work and the event loop keeps uploads moving while
 * large files are read. The checksum limiter already bounds how many hashes run at once; the pool
 * has that many threads, but no more than the CPU has cores (more would only compete), started on
 * first use and stopped after a while without work (each costs tens of MB). Where threads cannot
 * start (a bundle without the worker module), hashing falls back to the calling thread: slower,
 * never wrong.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { type FileDigest, hashFile } from "./hash.ts";

/** Threads idle this long are stopped. */
const IDLE_MS = 10_000;

/**
 * Files up to this size are hashed on the calling thread: the MD5 of 256 KiB takes well under a
 * millisecond, less than a round trip to a thread and back, which cost a first comparison of
 * 100,000 small files most of its time.
 */
export const SMALL_FILE_BYTES = 256 * 1024;

interface Pending {
  readonly path: string;
  readonly partSizes: readonly number[];
  resolve: (digest: FileDigest) => void;
  reject: (err: unknown) => void;
}

interface Thread {
  worker: Worker;
  busy: boolean;
  idleTimer?: ReturnType<typeof setTimeout>;
  /** It has answered at least once: it can start, so a later failure is that thread's alone. */
  proven: boolean;
}

interface Reply {
  id: number;
  digest?: { size: number; md5: string; etags: [number, string][] };
  error?: { name?: string; message?: string; code?: string };
}

export class HashPool {
  #threads: Thread[] = [];
  #pending = new Map<number, Pending & { thread: Thread }>();
  #nextId = 0;
  #broken = false;
  #waiters: (() => void)[] = [];

  readonly size: number;

  /** `module` is a parameter only so that a test can make threads fail to start. */
  constructor(
    limit: number,
    private readonly module = new URL("./hash_worker.ts", import.meta.url),
    private readonly idleMs = IDLE_MS,
  ) {
    this.size = Math.max(1, Math.min(limit, navigator.hardwareConcurrency || 1));
  }

  /** `size` is the size the file is expected to have: small files are hashed right here. */
  async hash(
    path: string,
    partSizes: readonly number[],
    signal?: AbortSignal,
    size?: number,
  ): Promise<FileDigest> {
    if (size !== undefined && size <= SMALL_FILE_BYTES) {
      return await hashFile(path, partSizes, signal, size);
    }
    let thread = this.#broken ? undefined : this.#freeThread();
    while (!thread && !this.#broken && this.#threads.length > 0) {
      // Every thread is busy (more callers than threads): wait for one.
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      thread = this.#freeThread();
    }
    if (!thread) return await hashFile(path, partSizes, signal);
    signal?.throwIfAborted();
    const id = this.#nextId++;
    thread.busy = true;
    clearTimeout(thread.idleTimer);
    return await new Promise<FileDigest>((resolve, reject) => {
      this.#pending.set(id, { path, partSizes, resolve, reject, thread });
      thread.worker.postMessage({ id, path, partSizes: [...partSizes] });
    });
  }

  #freeThread(): Thread | undefined {
    const idle = this.#threads.find((t) => !t.busy);
    if (idle || this.#threads.length >= this.size) return idle;
    try {
      const worker = new Worker(this.module, { type: "module" });
      const thread: Thread = { worker, busy: false, proven: false };
      worker.onmessage = (event: MessageEvent<Reply>) => this.#settle(event.data);
      worker.onerror = (event) => {
        event.preventDefault();
        this.#lose(thread, event.message);
      };
      this.#threads.push(thread);
      return thread;
    } catch (err) {
      this.#broken = true;
      log.debug("hashing on the main thread: no worker threads", { error: errorMessage(err) });
      return undefined;
    }
  }

  #settle({ id, digest, error }: Reply): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.thread.busy = false;
    pending.thread.proven = true;
    this.#retireWhenIdle(pending.thread);
    this.#waiters.shift()?.();
    if (digest) {
      pending.resolve({ size: digest.size, md5: digest.md5, etags: new Map(digest.etags) });
    } else {
      // Keep the fs error code (EACCES...) so the caller can say what went wrong in plain words.
      pending.reject(Object.assign(new Error(error?.message ?? "hashing failed"), error));
    }
  }

  /**
   * A thread that died has its job redone here, and is replaced on the next call; one that could
   * not even start (its module missing from a bundle) means no threads at all from now on.
   */
  #lose(thread: Thread, message: string): void {
    thread.worker.terminate();
    this.#threads = this.#threads.filter((t) => t !== thread);
    if (!thread.proven && !this.#broken) {
      this.#broken = true;
      log.debug("hashing on the main thread: worker threads cannot start", { error: message });
    }
    for (const waiter of this.#waiters.splice(0)) waiter();
    for (const [id, pending] of this.#pending) {
      if (pending.thread !== thread) continue;
      this.#pending.delete(id);
      hashFile(pending.path, pending.partSizes).then(pending.resolve, pending.reject);
    }
  }

  /** A thread with nothing to do for `idleMs` is stopped; the next hash starts a new one. */
  #retireWhenIdle(thread: Thread): void {
    clearTimeout(thread.idleTimer);
    thread.idleTimer = setTimeout(() => {
      if (thread.busy) return;
      thread.worker.terminate();
      this.#threads = this.#threads.filter((t) => t !== thread);
    }, this.idleMs);
  }

  /** Threads running now (tests and memory checks). */
  get threads(): number {
    return this.#threads.length;
  }

  close(): void {
    for (const thread of this.#threads) clearTimeout(thread.idleTimer);
    for (const thread of this.#threads) thread.worker.terminate();
    this.#threads = [];
    for (const pending of this.#pending.values()) pending.reject(new Error("Hashing stopped"));
    this.#pending.clear();
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
