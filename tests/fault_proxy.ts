/**
 * A fault-injecting TCP proxy for integration tests, put between the daemon and the S3 server.
 * Bytes are piped unchanged (the Host header included, which SigV4 signs: the client signs for the
 * proxy's address and RGW accepts it for path-style requests), so signatures and streamed bodies
 * are untouched. Faults, switched on and off by `set()` while the test runs:
 *
 * - `refuse`: live connections are dropped and new ones closed at once (the server process died);
 * - `blackhole`: nothing moves in either direction, live or new connections, until it is switched
 *   off, and then everything goes on (the server was paused, or the network was down);
 * - `resetAfterBytes` + `resetShare`: that share of new connections is closed after that many bytes
 *   from the client;
 * - `delayMs`: the first byte of every response is held that long;
 * - `oneWayMs`, `upBytesPerSecond`, `downBytesPerSecond`: a slow network (see wan_link.ts), with
 *   that latency each way and those rates to and from the server, shared by all connections;
 * - `status` + `statusShare`: that share of requests is answered with an S3 XML error, not
 *   forwarded, with `Connection: close`. Only this needs HTTP: request heads are read, bodies are
 *   counted by Content-Length (a chunked body turns parsing off for the rest of its connection).
 *
 * Shares are dealt deterministically: with share s, the n-th connection or request (from 0) is
 * chosen when floor((n + 1) s) > floor(n s), so 0.2 is exactly every fifth.
 * @module
 */

import { Lane, Pipe } from "./wan_link.ts";

export interface Faults {
  refuse?: boolean;
  blackhole?: boolean;
  resetAfterBytes?: number;
  resetShare?: number;
  delayMs?: number;
  oneWayMs?: number;
  upBytesPerSecond?: number;
  downBytesPerSecond?: number;
  statusShare?: number;
  status?: 503 | 500;
}

export interface ProxyStats {
  connections: number;
  requests: number;
  refused: number;
  /** Connections held by a blackhole: live when it began, or opened during it. */
  blackholed: number;
  resets: number;
  statuses: number;
  /** Bytes from clients, forwarded or queued on the link to the server. */
  bytesUp: number;
}

interface Link {
  readonly client: Deno.Conn;
  upstream?: Deno.Conn;
  /** Set when the client sent bytes since the last response byte: the next one starts a response. */
  turn: boolean;
  /** Its two directions through a slow network, once it has sent something through one. */
  pipes?: { server?: Pipe; client?: Pipe };
}

const ERRORS = {
  503: ["Slow Down", "SlowDown", "Please reduce your request rate."],
  500: ["Internal Server Error", "InternalError", "We encountered an internal error."],
} as const;
const HEAD_END = new Uint8Array([13, 10, 13, 10]);
const encoder = new TextEncoder();
const NO_DELAY = new Lane({ oneWayMs: 0 });

const chosen = (share: number | undefined, n: number): boolean =>
  !!share && Math.floor((n + 1) * share) > Math.floor(n * share);

export class FaultProxy {
  readonly stats: ProxyStats = {
    connections: 0,
    requests: 0,
    refused: 0,
    blackholed: 0,
    resets: 0,
    statuses: 0,
    bytesUp: 0,
  };
  readonly #listener: Deno.Listener;
  readonly #upstream: { hostname: string; port: number };
  readonly #links = new Set<Link>();
  readonly #handlers = new Set<Promise<void>>();
  #faults: Faults = {};
  #lanes = { server: NO_DELAY, client: NO_DELAY };
  #paused: PromiseWithResolvers<void> | undefined;
  readonly #accepting: Promise<void>;

  private constructor(upstream: URL) {
    this.#upstream = { hostname: upstream.hostname, port: Number(upstream.port || 80) };
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  static start(upstream: URL): Promise<FaultProxy> {
    return Promise.resolve(new FaultProxy(upstream));
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  /** Replaces the faults in force (those not named are off). */
  set(faults: Faults): void {
    this.#faults = { ...faults };
    const { oneWayMs = 0, upBytesPerSecond, downBytesPerSecond } = faults;
    this.#lanes = {
      server: new Lane({ oneWayMs, bytesPerSecond: upBytesPerSecond }),
      client: new Lane({ oneWayMs, bytesPerSecond: downBytesPerSecond }),
    };
    if (faults.refuse) { for (const link of [...this.#links]) this.#drop(link); }
    if (faults.blackhole && !this.#paused) {
      this.#paused = Promise.withResolvers();
      this.stats.blackholed += this.#links.size;
    }
    if (!faults.blackhole && this.#paused) {
      this.#paused.resolve();
      this.#paused = undefined;
    }
  }

  async close(): Promise<void> {
    this.set({});
    this.#listener.close();
    for (const link of [...this.#links]) this.#drop(link);
    await this.#accepting;
    await Promise.allSettled([...this.#handlers]);
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        const handler = this.#handle(client).finally(() => this.#handlers.delete(handler));
        this.#handlers.add(handler);
      }
    } catch {
      // the listener was closed
    }
  }

  async #handle(client: Deno.Conn): Promise<void> {
    const n = this.stats.connections++;
    if (this.#faults.refuse) {
      this.stats.refused++;
      client.close();
      return;
    }
    const link: Link = { client, turn: false };
    this.#links.add(link);
    try {
      if (this.#paused) this.stats.blackholed++;
      await this.#gate();
      link.upstream = await Deno.connect(this.#upstream);
      const { resetAfterBytes, resetShare } = this.#faults;
      const resetAt = chosen(resetShare, n) ? resetAfterBytes ?? 0 : Infinity;
      await Promise.race([this.#requests(link, resetAt), this.#responses(link)]);
    } catch {
      // a side closed or was dropped: the other goes with it
    } finally {
      this.#drop(link);
    }
  }

  #drop(link: Link): void {
    this.#links.delete(link);
    for (const conn of [link.client, link.upstream]) {
      try {
        conn?.close();
      } catch {
        // already closed
      }
    }
  }

  /** Waits while the blackhole is on. */
  async #gate(): Promise<void> {
    while (this.#paused) await this.#paused.promise;
  }

  /** Client to server: request heads are held until complete, so that one can be answered here. */
  async #requests(link: Link, resetAt: number): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    let head: Uint8Array = new Uint8Array(0);
    let bodyLeft = 0;
    let opaque = false;
    let sent = 0;
    for (;;) {
      const read = await link.client.read(buffer);
      if (read === null) return await link.pipes?.server?.flush();
      const take = Math.min(read, resetAt - sent);
      let chunk: Uint8Array = buffer.subarray(0, take);
      sent += take;
      link.turn = true;
      while (chunk.length > 0) {
        if (opaque || bodyLeft > 0) {
          const part = opaque ? chunk : chunk.subarray(0, bodyLeft);
          if (!opaque) bodyLeft -= part.length;
          await this.#forward(link, "server", part);
          chunk = chunk.subarray(part.length);
          continue;
        }
        head = concat(head, chunk);
        chunk = new Uint8Array(0);
        const end = indexOf(head, HEAD_END);
        if (end < 0 && head.length > 64 * 1024) {
          // not HTTP as we know it: pass it through
          [opaque, chunk, head] = [true, head, new Uint8Array(0)];
        }
        if (end < 0) continue;
        const text = new TextDecoder().decode(head.subarray(0, end));
        chunk = head.subarray(end + 4);
        const request = head.subarray(0, end + 4);
        head = new Uint8Array(0);
        if (chosen(this.#faults.statusShare, this.stats.requests++)) {
          return await this.#answerError(link, text);
        }
        await this.#forward(link, "server", request);
        opaque = /^transfer-encoding:/im.test(text);
        bodyLeft = Number(/^content-length:\s*(\d+)/im.exec(text)?.[1] ?? 0);
      }
      if (sent >= resetAt) {
        this.stats.resets++;
        return;
      }
    }
  }

  async #forward(link: Link, to: "server" | "client", data: Uint8Array): Promise<void> {
    await this.#gate();
    if (to === "server") this.stats.bytesUp += data.length;
    const lane = this.#lanes[to];
    if (lane.idle && !link.pipes?.[to]) {
      const conn = to === "server" ? link.upstream! : link.client;
      for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
      return;
    }
    const pipes = link.pipes ??= {};
    pipes[to] ??= new Pipe(to === "server" ? link.upstream! : link.client, lane);
    await pipes[to].send(data);
  }

  /** Server to client: the first byte after a request is held `delayMs`. */
  async #responses(link: Link): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const read = await link.upstream!.read(buffer);
      // What the slow network still carries reaches the client before the connection goes.
      if (read === null) return await link.pipes?.client?.flush();
      const delay = this.#faults.delayMs ?? 0;
      if (link.turn && delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      link.turn = false;
      await this.#forward(link, "client", buffer.subarray(0, read));
    }
  }

  /** The S3 error for a request that never reaches the server; then the connection ends. */
  async #answerError(link: Link, head: string): Promise<void> {
    this.stats.statuses++;
    const status = this.#faults.status ?? 503;
    const [reason, code, message] = ERRORS[status];
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
      `<Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
    const body = head.startsWith("HEAD ") ? "" : xml;
    await this.#forward(
      link,
      "client",
      encoder.encode(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/xml\r\n` +
          `Content-Length: ${encoder.encode(body).length}\r\nConnection: close\r\n\r\n${body}`,
      ),
    );
    // Read what the client still sends (a body not waiting for 100-continue) until it hangs up,
    // so that closing with unread bytes does not reset the connection before it reads the answer.
    await link.client.closeWrite();
    const timer = setTimeout(() => this.#drop(link), 5_000);
    try {
      const sink = new Uint8Array(64 * 1024);
      while (await link.client.read(sink) !== null) {
        // discarded
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOf(data: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= data.length; i++) {
    for (let j = 0; j < needle.length; j++) if (data[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
