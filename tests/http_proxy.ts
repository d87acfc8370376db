/**
 * A small forward proxy for integration tests, standing in for the corporate proxy (squid) that
 * HTTPS_PROXY and HTTP_PROXY name. It does what such proxies do:
 *
 * - `CONNECT host:port` opens a tunnel and then pipes bytes unchanged (how https URLs go through);
 * - a request with an absolute URI (`GET http://host:port/path HTTP/1.1`) is forwarded in origin
 *   form, without the Proxy-Authorization header, and its response is sent back (how http URLs go
 *   through). Requests are taken one at a time on each connection, bodies framed by Content-Length
 *   or chunked, so every request is counted;
 * - with `auth`, a request or CONNECT without the right `Proxy-Authorization: Basic` is answered
 *   407 and counted as refused.
 *
 * It counts what it forwarded and where to, which is what tests assert on.
 * @module
 */

import { ConnServer } from "./conn_server.ts";
import { HeadReader, parseHead, writeAll } from "./http_wire.ts";

export interface ProxyStats {
  /** CONNECT tunnels opened. */
  connects: number;
  /** Requests forwarded with an absolute URI. */
  requests: number;
  /** CONNECTs and requests answered 407 (no or wrong credentials). */
  refused: number;
  /** `host:port` of every tunnel and forwarded request, in order. */
  targets: string[];
}

export interface HttpProxyOptions {
  readonly auth?: { readonly user: string; readonly password: string };
  /**
   * Where the proxy really connects for a `host:port` a client names. A test points the daemon
   * at an address where nothing listens and routes it here to the server, so that only requests
   * that went through the proxy can arrive.
   */
  readonly routes?: Readonly<Record<string, string>>;
}

export class HttpProxy {
  readonly stats: ProxyStats = { connects: 0, requests: 0, refused: 0, targets: [] };
  readonly #server: ConnServer<Deno.Conn>;
  readonly #expected: string | undefined;
  readonly #routes: Readonly<Record<string, string>>;

  constructor(options: HttpProxyOptions = {}) {
    const { auth } = options;
    this.#routes = options.routes ?? {};
    this.#expected = auth ? `Basic ${btoa(`${auth.user}:${auth.password}`)}` : undefined;
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#server = new ConnServer(listener, (client) => this.#serve(client));
  }

  /** `http://127.0.0.1:<port>`, without credentials. */
  get url(): string {
    return `http://127.0.0.1:${this.#server.port}`;
  }

  close(): Promise<void> {
    return this.#server.close();
  }

  async #serve(client: Deno.Conn): Promise<void> {
    const fromClient = new HeadReader(client);
    let upstream: { target: string; conn: Deno.Conn; reader: HeadReader } | undefined;
    try {
      for (;;) {
        const raw = await fromClient.readHead();
        if (raw === null) return;
        const head = parseHead(raw);
        const [method = "", target = ""] = head.startLine.split(" ");
        if (this.#expected && head.headers.get("proxy-authorization") !== this.#expected) {
          this.stats.refused++;
          await fromClient.skipBody(head, method);
          await writeAll(
            client,
            "HTTP/1.1 407 Proxy Authentication Required\r\n" +
              'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n',
          );
          continue;
        }
        if (method === "CONNECT") {
          this.stats.connects++;
          this.stats.targets.push(target);
          return await this.#tunnel(client, fromClient, target);
        }
        let url: URL;
        try {
          url = new URL(target);
        } catch {
          await writeAll(client, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
          return;
        }
        const hostPort = `${url.hostname}:${url.port || 80}`;
        if (upstream?.target !== hostPort) {
          if (upstream) this.#server.closeQuietly(upstream.conn);
          const conn = await this.#connect(hostPort);
          this.#server.track(conn);
          upstream = { target: hostPort, conn, reader: new HeadReader(conn) };
        }
        this.stats.requests++;
        this.stats.targets.push(hostPort);
        const lines = [`${method} ${url.pathname}${url.search} HTTP/1.1`];
        for (const [name, value] of head.pairs) {
          if (!/^proxy-(authorization|connection)$/i.test(name)) lines.push(`${name}: ${value}`);
        }
        await writeAll(upstream.conn, `${lines.join("\r\n")}\r\n\r\n`);
        const { conn, reader } = upstream;
        // Both at once: with "Expect: 100-continue" the body follows the server's interim answer.
        const [, keepOpen] = await Promise.all([
          fromClient.copyBody(head, method, conn),
          this.#respond(reader, client, method),
        ]);
        if (!keepOpen) return;
      }
    } catch {
      // a side closed: the other goes with it
    } finally {
      this.#server.closeQuietly(client);
      if (upstream) this.#server.closeQuietly(upstream.conn);
    }
  }

  /** Sends the server's answer (interim ones too); false when it ended by closing. */
  async #respond(reader: HeadReader, client: Deno.Conn, method: string): Promise<boolean> {
    for (;;) {
      const raw = await reader.readHead();
      if (raw === null) throw new Error("the server closed the connection");
      const head = parseHead(raw);
      await writeAll(client, raw);
      const status = Number(head.startLine.split(" ")[1]);
      if (status >= 100 && status < 200) continue;
      const bodyless = method === "HEAD" || status === 204 || status === 304;
      return bodyless ? true : await reader.copyBody(head, "", client, true);
    }
  }

  /** Connects to `host:port`, or where `routes` sends it. */
  #connect(target: string): Promise<Deno.Conn> {
    const to = this.#routes[target] ?? target;
    const colon = to.lastIndexOf(":");
    const hostname = to.slice(0, colon).replace(/^\[|\]$/g, "");
    return Deno.connect({ hostname, port: Number(to.slice(colon + 1)) });
  }

  async #tunnel(client: Deno.Conn, fromClient: HeadReader, target: string): Promise<void> {
    let server: Deno.Conn;
    try {
      server = await this.#connect(target);
    } catch {
      await writeAll(client, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    this.#server.track(server);
    await writeAll(client, "HTTP/1.1 200 Connection established\r\n\r\n");
    // Whatever the client sent after the CONNECT head (a TLS hello) is already in the buffer.
    await writeAll(server, fromClient.takeBuffered());
    await this.#server.splice(client, server);
  }
}
