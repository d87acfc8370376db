/**
 * Serves the exposition text on one path with `Deno.serve`. Scrapes come every few seconds, so
 * requests are not logged; only failures are.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import type { Metrics } from "./metrics.ts";

export interface ServeMetricsOptions {
  readonly host: string;
  readonly port: number;
  /** Where the text is served, e.g. `/metrics`. */
  readonly path: string;
  /** Aborting it stops accepting connections and lets in-flight scrapes finish. */
  readonly signal: AbortSignal;
}

const text = (status: number, body: string, headers: Record<string, string> = {}): Response =>
  new Response(body, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...headers },
  });

export function metricsHandler(
  metrics: Metrics,
  path: string,
): (request: Request) => Promise<Response> {
  return async (request) => {
    if (new URL(request.url).pathname !== path) return text(404, "not found\n");
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text(405, "method not allowed\n", { "Allow": "GET, HEAD" });
    }
    try {
      const body = await metrics.text();
      return new Response(body, { headers: { "Content-Type": metrics.registry.contentType } });
    } catch (err) {
      log.error("Cannot collect metrics", { error: errorMessage(err) });
      return text(500, "cannot collect metrics\n");
    }
  };
}

export function serveMetrics(
  metrics: Metrics,
  { host, port, path, signal }: ServeMetricsOptions,
): Promise<{ port: number; finished: Promise<void> }> {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: host,
      port,
      signal,
      // Replaces Deno's console banner, which would bypass the logger.
      onListen: ({ hostname, port }) =>
        log.info("metrics server listening", { address: `${hostname}:${port}`, path }),
      onError: (err) => {
        log.error("metrics request failed", { error: errorMessage(err) });
        return text(500, "internal error\n");
      },
    }, metricsHandler(metrics, path));
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
