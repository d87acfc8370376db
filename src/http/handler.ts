/**
 * The HTTP API as a plain `(Request) => Response` function: /info, /healthz and /reload, the Go
 * tool's routes and JSON keys plus what operators expect today (a health check, an optional token,
 * a rate limit). It sees the daemon only through `StatusSource`; `server.ts` binds it to a port.
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { type Fields, log } from "../lib/log.ts";
import type { SiteInfo } from "../site/site.ts";
import { statusBody } from "./status_body.ts";

export type ServiceStatus = "STARTING" | "RUNNING" | "RELOADING" | "STOPPING";

export interface StatusSource {
  readonly version: string;
  readonly startupTime: Date;
  status(): ServiceStatus;
  sites(): readonly SiteInfo[];
  /** With `upload_workers: auto`, each endpoint's uploads in flight and why it last changed. */
  concurrency(): readonly { endpoint: string; limit: number; reason: string }[];
  /** The running config's worker counts and log level, shown as the Go tool showed them. */
  settings(): {
    readonly uploadWorkers: number;
    readonly checksumWorkers: number;
    readonly logLevel: string;
  };
  /** The last reload's validation error, shown until a reload succeeds. */
  lastReloadError(): string | undefined;
  /** Asks for a reload; returns at once (the daemon merges concurrent requests). */
  requestReload(force: boolean): void;
}

export interface HandlerOptions {
  /** When set, /reload requires `Authorization: Bearer <token>`; /info and /healthz stay open. */
  readonly token?: string;
  /** Milliseconds clock for the /reload rate limit; tests pass a fake one instead of sleeping. */
  readonly now?: () => number;
}

const MAX_URL_LENGTH = 4096;
const MAX_QUERY_LENGTH = 1024;
const RELOAD_INTERVAL_MS = 1000;
const ROUTES: Readonly<Record<string, readonly string[]>> = {
  "/info": ["GET", "HEAD"],
  "/healthz": ["GET", "HEAD"],
  "/reload": ["GET", "POST"],
};

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Server": "s3sync-service", "Content-Type": "application/json", ...headers },
  });
}

/**
 * `?force` with no value, `true` or `1` forces. The Go tool forced on the key's mere presence, so
 * any other value does too, except an explicit `false` or `0`.
 */
export function parseForce(params: URLSearchParams): boolean {
  if (!params.has("force")) return false;
  const value = (params.get("force") ?? "").toLowerCase();
  return value !== "false" && value !== "0";
}

const sha256 = (text: string): Uint8Array => createHash("sha256").update(text).digest();

/** Hashing both sides first makes the lengths equal, so the comparison leaks neither bytes nor length. */
function bearerMatches(request: Request, tokenDigest: Uint8Array): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(request.headers.get("Authorization") ?? "");
  return timingSafeEqual(sha256(match?.[1] ?? ""), tokenDigest);
}

export function createHandler(
  source: StatusSource,
  options: HandlerOptions = {},
): (request: Request) => Promise<Response> {
  const tokenDigest = options.token ? sha256(options.token) : undefined;
  const now = options.now ?? Date.now;
  let lastReloadAt = -Infinity;

  function reload(request: Request, url: URL, fields: Fields): Response {
    if (tokenDigest && !bearerMatches(request, tokenDigest)) {
      return json(401, { error: "unauthorized" }, {
        "WWW-Authenticate": 'Bearer realm="s3sync-service"',
      });
    }
    // The daemon merges concurrent reloads anyway; this stops a client loop from keeping it busy.
    const at = now();
    if (at - lastReloadAt < RELOAD_INTERVAL_MS) {
      return json(429, { error: "too many reload requests" }, { "Retry-After": "1" });
    }
    lastReloadAt = at;
    const force = parseForce(url.searchParams);
    fields.force = force;
    source.requestReload(force);
    return json(200, statusBody(source));
  }

  function route(request: Request, url: URL, fields: Fields): Response {
    if (request.url.length > MAX_URL_LENGTH || url.search.length > MAX_QUERY_LENGTH) {
      return json(414, { error: "uri too long" });
    }
    const methods = ROUTES[url.pathname];
    if (!methods) return json(404, { error: "not found" });
    if (!methods.includes(request.method)) {
      return json(405, { error: "method not allowed" }, { "Allow": methods.join(", ") });
    }
    if (url.pathname === "/reload") return reload(request, url, fields);
    const status = url.pathname === "/healthz" && source.status() === "STOPPING" ? 503 : 200;
    return json(status, statusBody(source));
  }

  return async (request) => {
    // Bodies mean nothing here: cancel rather than read, so a huge POST is never buffered.
    await request.body?.cancel().catch(() => {});
    const url = new URL(request.url);
    const fields: Fields = { method: request.method, path: url.pathname.slice(0, 256), status: 0 };
    const response = route(request, url, fields);
    fields.status = response.status;
    // Health checks poll every few seconds; logging them would drown the sync lines.
    if (url.pathname !== "/healthz") log.info("http request", fields);
    return response;
  };
}
