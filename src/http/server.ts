/**
 * Binds the API handler to a port with `Deno.serve`. Whether to listen at all (port 0 means
 * disabled in the config) is the caller's decision; this binds whatever it is given.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  /** Aborting it stops accepting connections and lets in-flight requests finish. */
  readonly signal: AbortSignal;
}

export interface Served {
  /** The bound port: the one asked for, or the kernel's pick for port 0. */
  readonly port: number;
  /** Settles once the server has shut down after `signal` aborted. */
  readonly finished: Promise<void>;
}

export function serveHttp(
  handler: (request: Request) => Promise<Response>,
  { host, port, signal }: ServeOptions,
): Promise<Served> {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: host,
      port,
      signal,
      // Replaces Deno's console banner, which would bypass the logger.
      onListen: ({ hostname, port }) =>
        log.info("http server listening", { address: `${hostname}:${port}` }),
      // Deno's default prints to the console; keep one line through the logger instead.
      onError: (err) => {
        log.error("http request failed", { error: errorMessage(err) });
        return new Response(JSON.stringify({ error: "internal error" }), {
          status: 500,
          headers: { "Server": "s3sync-service", "Content-Type": "application/json" },
        });
      },
    }, handler);
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      return Promise.reject(
        new Error(`Cannot listen on ${host}:${port}: address in use`, { cause: err }),
      );
    }
    return Promise.reject(err);
  }
  return Promise.resolve({ port: server.addr.port, finished: server.finished });
}
