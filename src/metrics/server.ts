/**
 * Serves the exposition text on one path with `Deno.serve`. Scrapes come every few seconds, so
 * requests are not logged; only failures are.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { serve, type Served } from "../lib/serve.ts";
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
): Promise<Served> {
  const handler = metricsHandler(metrics, path);
  const failure = () => text(500, "internal error\n");
  try {
    return Promise.resolve(
      serve({ name: "metrics", handler, failure, fields: { path } }, { host, port, signal }),
    );
  } catch (err) {
    return Promise.reject(err);
  }
}
