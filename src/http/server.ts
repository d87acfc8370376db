/**
 * Binds the API handler to a port with `Deno.serve`. Whether to listen at all (port 0 means
 * disabled in the config) is the caller's decision; this binds whatever it is given.
 * @module
 */

import { serve, type Served, type ServeOptions } from "../lib/serve.ts";

export type { Served, ServeOptions };

export function serveHttp(
  handler: (request: Request) => Promise<Response>,
  options: ServeOptions,
): Promise<Served> {
  const failure = () =>
    new Response(JSON.stringify({ error: "internal error" }), {
      status: 500,
      headers: { "Server": "s3sync-service", "Content-Type": "application/json" },
    });
  try {
    return Promise.resolve(serve({ name: "http", handler, failure }, options));
  } catch (err) {
    return Promise.reject(err);
  }
}
