/**
 * Deletes gathered into DeleteObjects requests of up to 1,000 keys: a folder of 10,000 files that
 * goes away costs ten requests, not ten thousand. A delete waits at most `waitMs` for company, and
 * each caller still learns whether its own key was deleted. A key that XML cannot carry (a control
 * character such as U+0001) goes alone, as a DeleteObject: in a batch, the server would refuse
 * the whole request, and every other key in it would stay.
 *
 * A delete the server refuses for good (Object Lock retention, a legal hold, a bucket policy:
 * `AccessDenied` for that key) fails with `DeleteRefused`. The batcher remembers such keys and does
 * not send them again until the next full comparison with the bucket (`newPass()`, called by the
 * site at each reconcile), when they are tried once more: a retention period may have ended, a
 * hold been lifted. A refusal says whether the key was refused in the previous pass too, so that
 * the site reports each refused object once, not once per pass.
 * @module
 */

import { S3Error } from "../store/s3_error.ts";
import { xmlCanCarry } from "../store/s3_http.ts";
import type { ObjectStore } from "../store/types.ts";

/** The most keys one DeleteObjects request may carry. */
export const DELETE_BATCH = 1000;

/**
 * The server refused to delete `key`, and asking again will not change that: the object is locked
 * (Object Lock retention or a legal hold) or a policy denies the delete.
 */
export class DeleteRefused extends S3Error {
  constructor(
    site: string,
    bucket: string,
    readonly key: string,
    /** What the server said. */
    readonly reason: string,
    /** Refused in an earlier pass too, or already in this one: reported then. */
    readonly known: boolean,
    cause: unknown,
  ) {
    super("delete", site, bucket, key, cause);
    this.name = "DeleteRefused";
  }
}

/** `AccessDenied` for one key, or a 403 that names no code: nothing a retry can change. */
function isRefusal(code: string | undefined, status: number | undefined): boolean {
  return code === "AccessDenied" || (status === 403 && code === undefined);
}

/** A DeleteObjects per-key reason (`"Access Denied (AccessDenied)"`, or a bare code) as an error. */
function reasonError(why: string): Error & { code: string } {
  return Object.assign(new Error(why), { code: /\((\w+)\)$/.exec(why)?.[1] ?? why });
}

interface Waiting {
  readonly key: string;
  resolve(): void;
  reject(err: unknown): void;
}

export class DeleteBatcher {
  #waiting: Waiting[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Keys refused in this pass, with the reason: not sent again before the next one. */
  #refused = new Map<string, string>();
  /** Keys refused in the previous pass (and reported then). */
  #earlier = new Set<string>();

  constructor(
    private readonly store: ObjectStore,
    private readonly site: string,
    private readonly waitMs = 20,
  ) {}

  /** Keys the server refused to delete in this pass. */
  get refused(): number {
    return this.#refused.size;
  }

  /** A full comparison with the bucket starts: the keys refused so far may be tried again. */
  newPass(): void {
    this.#earlier = new Set(this.#refused.keys());
    this.#refused.clear();
  }

  delete(key: string): Promise<void> {
    const why = this.#refused.get(key);
    if (why !== undefined) return Promise.reject(this.#refusal(key, why, true));
    if (!xmlCanCarry(key)) return this.#deleteOne(key);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ key, resolve, reject });
      if (this.#waiting.length >= DELETE_BATCH) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.waitMs);
    });
  }

  async #deleteOne(key: string): Promise<void> {
    try {
      await this.store.deleteOne(key);
      this.#earlier.delete(key);
    } catch (err) {
      if (err instanceof S3Error && isRefusal(err.code, err.status)) {
        const why = err.cause instanceof Error ? err.cause.message : err.message;
        throw this.#remember(key, why, err.cause ?? err);
      }
      throw err;
    }
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#waiting.splice(0, DELETE_BATCH);
    if (this.#waiting.length > 0) this.#timer = setTimeout(() => this.#flush(), this.waitMs);
    if (batch.length === 0) return;
    // Every caller awaits its own promise, so this one has owners; it never rejects.
    void this.#send(batch);
  }

  async #send(batch: Waiting[]): Promise<void> {
    let failed: Map<string, string>;
    try {
      failed = await this.store.deleteMany(batch.map((w) => w.key));
    } catch (err) {
      // The whole request failed (the network, the credentials): an ordinary failure, retried.
      for (const waiting of batch) waiting.reject(err);
      return;
    }
    for (const { key, resolve, reject } of batch) {
      const why = failed.get(key);
      if (why === undefined) {
        this.#earlier.delete(key);
        resolve();
        continue;
      }
      const cause = reasonError(why);
      if (isRefusal(cause.code, undefined)) reject(this.#remember(key, why, cause));
      else reject(new S3Error("delete", this.site, this.store.bucket, key, cause));
    }
  }

  /** The server refused `key` just now: remembered for this pass. */
  #remember(key: string, why: string, cause: unknown): DeleteRefused {
    const known = this.#earlier.delete(key);
    this.#refused.set(key, why);
    return this.#refusal(key, why, known, cause);
  }

  #refusal(key: string, why: string, known: boolean, cause?: unknown): DeleteRefused {
    cause ??= reasonError(why);
    return new DeleteRefused(this.site, this.store.bucket, key, why, known, cause);
  }
}
