/**
 * The JSON body every /info, /healthz and /reload response carries. The upper-case keys are the Go
 * tool's, kept so existing scripts and dashboards keep reading them; the new keys follow them.
 * @module
 */

import type { SiteInfo } from "../site/site.ts";
import type { StatusSource } from "./handler.ts";

const pad = (value: number, width = 2): string => String(value).padStart(width, "0");

/**
 * RFC 3339 in local time with an explicit offset (`2026-11-24T10:15:00.123+01:00`), as Go's
 * `time.Time` printed it. `toISOString()` would give `Z`, which some of the original's consumers
 * parse with a fixed `+hh:mm` layout.
 */
export function rfc3339(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Null while deletes flow; else what is held back, to be confirmed with exactly `held`. */
function guardJson(tripped: SiteInfo["deleteGuard"]): Record<string, unknown> | null {
  if (!tripped) return null;
  return {
    tripped: true,
    held: tripped.count,
    max_delete: tripped.cap,
    recently_deleted: tripped.released,
    since: rfc3339(tripped.since),
    sample: tripped.sample,
  };
}

function siteJson(site: SiteInfo): Record<string, unknown> {
  return {
    name: site.name,
    initial_sync_done: site.initialSyncDone,
    queued: site.queued,
    in_flight: site.inFlight,
    parked: site.parked,
    last_error: site.lastError ?? null,
    last_sync: site.lastSyncAt ? rfc3339(site.lastSyncAt) : null,
    delete_guard: guardJson(site.deleteGuard),
  };
}

export function statusBody(source: StatusSource): Record<string, unknown> {
  const sites = source.sites();
  const settings = source.settings();
  return {
    VERSION: source.version,
    STARTUPTIME: rfc3339(source.startupTime),
    STATUS: source.status(),
    // The Go tool's SITES is a count; scripts read it as one, so the details get their own key.
    SITES: sites.length,
    // A number, as the Go tool's users read it: with "auto", all endpoints' current limits added.
    UPLOADWORKERS: settings.uploadWorkers,
    CHECKSUMWORKERS: settings.checksumWorkers,
    LOGLEVEL: settings.logLevel,
    SITE_STATES: sites.map(siteJson),
    RELOAD_ERROR: source.lastReloadError() ?? null,
    UPLOAD_CONCURRENCY: source.concurrency().map(({ endpoint, limit, reason }) => ({
      endpoint,
      limit,
      reason,
    })),
  };
}
