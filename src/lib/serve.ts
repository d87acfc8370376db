/**
 * `Deno.serve` the way every server here wants it: lines through the logger instead of Deno's
 * console banner and error printer, and an address in use said plainly. Whether to listen at all
 * (port 0 means disabled in the flags) is the caller's decision; this binds whatever it is given.
 * @module
 */

import { errorMessage } from "./errors.ts";
import { log } from "./log.ts";

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

export interface ServeSpec {
  /** Names the server in log lines: "http", "metrics". */
  readonly name: string;
  readonly handler: (request: Request) => Promise<Response>;
  /** The answer when the handler throws (a bug): the server's own format. */
  readonly failure: () => Response;
  readonly fields?: Record<string, string>;
}

export function serve(
  { name, handler, failure, fields }: ServeSpec,
  options: ServeOptions,
): Served {
  const { host, port, signal } = options;
  try {
    const server = Deno.serve({
      hostname: host,
      port,
      signal,
      onListen: ({ hostname, port }) =>
        log.info(`${name} server listening`, { address: `${hostname}:${port}`, ...fields }),
      onError: (err) => {
        log.error(`${name} request failed`, { error: errorMessage(err) });
        return failure();
      },
    }, handler);
    return { port: server.addr.port, finished: server.finished };
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      throw new Error(`Cannot listen on ${host}:${port}: address in use`, { cause: err });
    }
    throw err;
  }
}
