/**
 * Writes grouped into transactions of up to `rows` rows or `ms` milliseconds. SQLite commits each
 * statement outside a transaction on its own, which costs a write (and, in WAL mode, often an
 * fsync) per row: most of a first comparison of 100,000 small files, before. Reads on the same
 * connection see the uncommitted rows.
 * @module
 */

export class WriteBatch {
  #rows = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `exec` runs BEGIN and COMMIT on the connection; `onError` hears of a commit that failed when
   * its time was up, which no caller is there to catch.
   */
  constructor(
    private readonly exec: (sql: string) => void,
    private readonly onError: (err: unknown) => void,
    private readonly rows = 1_000,
    private readonly ms = 200,
  ) {}

  write(run: () => void): void {
    if (this.#rows === 0) {
      this.exec("BEGIN");
      const timer = setTimeout(() => {
        try {
          this.commit();
        } catch (err) {
          this.onError(err);
        }
      }, this.ms);
      // A pending commit never keeps the process alive; closing commits it.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    run();
    if (++this.#rows >= this.rows) this.commit();
  }

  commit(): void {
    const rows = this.#rows;
    this.reset();
    if (rows > 0) this.exec("COMMIT");
  }

  /** Forgets the open transaction: its connection is gone. */
  reset(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#rows = 0;
  }
}
