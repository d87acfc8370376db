/**
 * Just enough HTTP/1.1 framing for the test proxies: read a message head off a connection, then
 * copy its body (Content-Length, chunked, or until close) to another connection unchanged.
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface Head {
  readonly startLine: string;
  /** As sent, in order. */
  readonly pairs: readonly [string, string][];
  /** Lower-case names; the last value wins. */
  readonly headers: ReadonlyMap<string, string>;
}

export function parseHead(raw: Uint8Array): Head {
  const [startLine = "", ...lines] = decoder.decode(raw).split("\r\n");
  const pairs: [string, string][] = [];
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) pairs.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  }
  return { startLine, pairs, headers: new Map(pairs.map(([n, v]) => [n.toLowerCase(), v])) };
}

export async function writeAll(conn: Deno.Conn, data: string | Uint8Array): Promise<void> {
  let bytes = typeof data === "string" ? encoder.encode(data) : data;
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/** Reads a connection message by message; bytes read past a message wait for the next call. */
export class HeadReader {
  #buffer = new Uint8Array(0);
  readonly #chunk = new Uint8Array(64 * 1024);

  constructor(private readonly conn: Deno.Conn) {}

  /** The next head, its blank line included; null when the peer closed between messages. */
  async readHead(): Promise<Uint8Array | null> {
    for (;;) {
      const end = indexOfBlankLine(this.#buffer);
      if (end >= 0) return this.#take(end + 4);
      if (!(await this.#fill())) {
        if (this.#buffer.length === 0) return null;
        throw new Error("the connection closed in the middle of a message head");
      }
    }
  }

  /** What was read but not yet consumed, for a tunnel that takes over the connection. */
  takeBuffered(): Uint8Array {
    return this.#take(this.#buffer.length);
  }

  /**
   * Copies the body that follows `head` to `to` (or drops it); true when the connection may carry
   * another message, false when the body ran to the close (a response without framing).
   */
  async copyBody(
    head: Head,
    method: string,
    to: Deno.Conn | undefined,
    response = false,
  ): Promise<boolean> {
    const send = (bytes: Uint8Array) => to ? writeAll(to, bytes) : Promise.resolve();
    if (/chunked/i.test(head.headers.get("transfer-encoding") ?? "")) {
      for (;;) {
        const line = await this.#readLine();
        await send(line);
        const size = parseInt(decoder.decode(line), 16);
        if (size === 0) {
          // Trailers, if any, then the blank line.
          for (let trailer = line; trailer.length > 2;) {
            await send(trailer = await this.#readLine());
          }
          return true;
        }
        await this.#copy(size + 2, send);
      }
    }
    const length = head.headers.get("content-length");
    if (length !== undefined) {
      await this.#copy(Number(length), send);
      return true;
    }
    if (!response || method === "HEAD") return true;
    while (await this.#fill()) await send(this.#take(this.#buffer.length));
    await send(this.#take(this.#buffer.length));
    return false;
  }

  skipBody(head: Head, method: string): Promise<boolean> {
    return this.copyBody(head, method, undefined);
  }

  async #copy(count: number, send: (bytes: Uint8Array) => Promise<void>): Promise<void> {
    let left = count;
    while (left > 0) {
      if (this.#buffer.length === 0 && !(await this.#fill())) {
        throw new Error("the connection closed in the middle of a body");
      }
      const part = this.#take(Math.min(left, this.#buffer.length));
      left -= part.length;
      await send(part);
    }
  }

  async #readLine(): Promise<Uint8Array> {
    for (;;) {
      const end = this.#buffer.findIndex((b, i) => b === 10 && this.#buffer[i - 1] === 13);
      if (end >= 0) return this.#take(end + 1);
      if (!(await this.#fill())) throw new Error("the connection closed in the middle of a line");
    }
  }

  async #fill(): Promise<boolean> {
    const read = await this.conn.read(this.#chunk);
    if (read === null) return false;
    const grown = new Uint8Array(this.#buffer.length + read);
    grown.set(this.#buffer);
    grown.set(this.#chunk.subarray(0, read), this.#buffer.length);
    this.#buffer = grown;
    return true;
  }

  #take(count: number): Uint8Array {
    const taken = this.#buffer.slice(0, count);
    this.#buffer = this.#buffer.slice(count);
    return taken;
  }
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      return i - 3;
    }
  }
  return -1;
}
