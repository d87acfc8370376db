/**
 * The accept loop the test servers share (tests/http_proxy.ts, tests/tls_front.ts): each
 * connection goes to `serve`; `close()` stops accepting, closes every connection still tracked,
 * and waits for the handlers, so that no test leaks a socket or a promise.
 * @module
 */

export class ConnServer<C extends Deno.Conn> {
  readonly #conns = new Set<Deno.Conn>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;

  constructor(readonly listener: Deno.Listener<C>, serve: (conn: C) => Promise<void>) {
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) {
          this.track(conn);
          const handler = serve(conn).finally(() => this.#handlers.delete(handler));
          this.#handlers.add(handler);
        }
      } catch {
        // the listener was closed
      }
    })();
  }

  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  /** Closed by `close()` if still open then. */
  track(conn: Deno.Conn): void {
    this.#conns.add(conn);
  }

  closeQuietly(conn: Deno.Conn): void {
    this.#conns.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  }

  /** Pipes bytes both ways until either side ends, then closes both. */
  async splice(a: Deno.Conn, b: Deno.Conn): Promise<void> {
    const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
      try {
        await from.readable.pipeTo(to.writable, { preventClose: true });
      } catch {
        // reset by either side
      }
      this.closeQuietly(from);
      this.closeQuietly(to);
    };
    await Promise.all([pipe(a, b), pipe(b, a)]);
  }

  async close(): Promise<void> {
    this.listener.close();
    for (const conn of this.#conns) this.closeQuietly(conn);
    await this.#accepting;
    await Promise.allSettled([...this.#handlers]);
  }
}
