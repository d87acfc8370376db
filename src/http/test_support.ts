/** Fakes shared by the handler tests. */

import assert from "node:assert/strict";
import {
  createHandler,
  type HandlerOptions,
  type ServiceStatus,
  type StatusSource,
} from "./handler.ts";

export const STARTUP = new Date("2026-11-24T09:15:00.250Z");
export const SYNCED = new Date("2026-11-24T09:20:00Z");

export interface Fake {
  readonly source: StatusSource;
  /** The `force` argument of each `requestReload()` call, in order. */
  readonly reloads: boolean[];
  /** The count of each `confirmDelete()` call that named a site, in order. */
  readonly confirmed: number[];
}

export interface Setup {
  readonly call: (path: string, init?: RequestInit) => Promise<Response>;
  readonly reloads: boolean[];
  readonly confirmed: number[];
  /** Moves the handler's clock forward, for the /reload rate limit. */
  readonly advance: (ms: number) => void;
}

export function fakeSource(status: ServiceStatus = "RUNNING"): Fake {
  const reloads: boolean[] = [];
  const confirmed: number[] = [];
  const source: StatusSource = {
    version: "1.2.3",
    startupTime: STARTUP,
    status: () => status,
    concurrency: () => [{ endpoint: "http://s3.test", limit: 12, reason: "grow: steady" }],
    sites: () => [
      {
        name: "photos",
        initialSyncDone: true,
        queued: 2,
        inFlight: 1,
        parked: 0,
        lastError: undefined,
        lastSyncAt: SYNCED,
      },
      {
        name: "docs",
        initialSyncDone: false,
        queued: 0,
        inFlight: 0,
        parked: 3,
        lastError: "Cannot list",
        lastSyncAt: undefined,
        deleteGuard: {
          count: 20,
          cap: 10,
          released: 0,
          since: SYNCED,
          sample: ["docs/a.txt", "docs/b.txt"],
        },
      },
    ],
    settings: () => ({ uploadWorkers: 10, checksumWorkers: 4, logLevel: "info" }),
    lastReloadError: () => undefined,
    requestReload: (force) => void reloads.push(force),
    confirmDelete: (site, count) => {
      if (site !== "docs") return undefined;
      confirmed.push(count);
      return count === 20 ? { ok: true } : { ok: false, held: 20 };
    },
  };
  return { source, reloads, confirmed };
}

export function setup(status?: ServiceStatus, options?: HandlerOptions): Setup {
  const { source, reloads, confirmed } = fakeSource(status);
  let clock = 10_000;
  const handler = createHandler(source, { now: () => clock, ...options });
  const call = (path: string, init?: RequestInit) =>
    handler(new Request(`http://localhost${path}`, init));
  return { call, reloads, confirmed, advance: (ms: number) => void (clock += ms) };
}

export function assertHeaders(response: Response): void {
  assert.equal(response.headers.get("Server"), "s3sync-service");
  assert.equal(response.headers.get("Content-Type"), "application/json");
}

export const OFFSET_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$/;
