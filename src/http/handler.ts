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
  /**
   * The operator approves the `count` deletes the site's delete guard holds back. `held`: what it
   * holds now, when that is not `count` (0: nothing); undefined when no site has that name.
   */
  confirmDelete(
    site: string,
    count: number,
  ): { ok: true } | { ok: false; held: number } | undefined;
}

export interface HandlerOptions {
  /**
   * When set, /reload and /confirm-delete require `Authorization: Bearer <token>`; /info and
   * /healthz stay open.
   */
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
  // A POST of its own, never a GET: a link, a crawler or a prefetch must not approve deletes.
  "/confirm-delete": ["POST"],
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

  const unauthorized = (request: Request): Response | undefined =>
    tokenDigest && !bearerMatches(request, tokenDigest)
      ? json(401, { error: "unauthorized" }, {
        "WWW-Authenticate": 'Bearer realm="s3sync-service"',
      })
      : undefined;

  function reload(request: Request, url: URL, fields: Fields): Response {
    const refused = unauthorized(request);
    if (refused) return refused;
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

  /** `?site=NAME&count=N`: approves exactly the N deletes the site holds back, no other count. */
  function confirmDelete(request: Request, url: URL, fields: Fields): Response {
    const refused = unauthorized(request);
    if (refused) return refused;
    const site = url.searchParams.get("site") ?? "";
    const countText = url.searchParams.get("count") ?? "";
    if (!site || !/^\d{1,10}$/.test(countText)) {
      return json(400, { error: 'needs "site" (a site\'s name) and "count" (the deletes held)' });
    }
    const count = Number(countText);
    Object.assign(fields, { site, count });
    const result = source.confirmDelete(site, count);
    if (!result) return json(404, { error: "no such site", site });
    if (!result.ok) {
      const error = result.held === 0
        ? "the site holds no deletes back"
        : "the site holds another count of deletes back: confirm that count, after a look";
      return json(409, { error, site, held: result.held });
    }
    return json(200, { site, confirmed: count });
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
    if (url.pathname === "/confirm-delete") return confirmDelete(request, url, fields);
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
