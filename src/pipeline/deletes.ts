/**
 * Deletes gathered into DeleteObjects requests of up to 1,000 keys: a folder of 10,000 files that
 * goes away costs ten requests, not ten thousand. A delete waits at most `waitMs` for company, and
 * each caller still learns whether its own key was deleted. A key that XML cannot carry (a control
 * character such as U+0001) goes alone, as a DeleteObject: in a batch, the server would refuse
 * the whole request, and every other key in it would stay.
 * @module
 */

import { S3Error } from "../store/s3.ts";
import { xmlCanCarry } from "../store/s3_http.ts";
import type { ObjectStore } from "../store/types.ts";

/** The most keys one DeleteObjects request may carry. */
export const DELETE_BATCH = 1000;

interface Waiting {
  readonly key: string;
  resolve(): void;
  reject(err: unknown): void;
}

export class DeleteBatcher {
  #waiting: Waiting[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly site: string,
    private readonly waitMs = 20,
  ) {}

  delete(key: string): Promise<void> {
    if (!xmlCanCarry(key)) return this.store.deleteOne(key);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ key, resolve, reject });
      if (this.#waiting.length >= DELETE_BATCH) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.waitMs);
    });
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
    try {
      const failed = await this.store.deleteMany(batch.map((w) => w.key));
      for (const waiting of batch) {
        const why = failed.get(waiting.key);
        if (why === undefined) waiting.resolve();
        else {
          waiting.reject(
            new S3Error("delete", this.site, this.store.bucket, waiting.key, new Error(why)),
          );
        }
      }
    } catch (err) {
      for (const waiting of batch) waiting.reject(err);
    }
  }
}
