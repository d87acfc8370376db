/**
 * Prometheus metrics, read from the engine at scrape time: no timers, no counters kept in step by
 * hand. The first three series keep the Go tool's names, types and labels so dashboards and alerts
 * carry over; the rest are new and all start with `s3sync_`. The daemon adapts its sites to
 * `MetricsSource`; the upload stage reports durations through `observeUpload`.
 * @module
 */

import { Histogram, Registry } from "prom-client";
import { registerProcessMetrics } from "./process.ts";
import { defineCounter, defineGauge, type Labels, perScrape, type Row } from "./series.ts";

export interface SiteMetrics {
  readonly site: string;
  readonly localPath: string;
  readonly bucket: string;
  readonly bucketPath: string;
  /** What the site believes is in S3. */
  readonly objects: number;
  readonly totalSize: number;
  readonly errors: { readonly local: number; readonly cloud: number; readonly watcher: number };
  readonly uploaded: number;
  readonly copied: number;
  readonly deleted: number;
  readonly failedJobs: number;
  readonly bytesUploaded: number;
  readonly queued: { readonly checksum: number; readonly upload: number };
  readonly inFlight: { readonly checksum: number; readonly upload: number };
  readonly parked: number;
  readonly lastReconcileAt: Date | undefined;
  /** Deletes the delete guard holds back; 0 while it lets them go. */
  readonly deletesHeld: number;
}

/** One endpoint's adaptive upload concurrency (`upload_workers: auto`). */
export interface ConcurrencyMetrics {
  readonly endpoint: string;
  readonly limit: number;
  /** How often it changed, by reason. */
  readonly changes: Readonly<Record<string, number>>;
}

export interface MetricsSource {
  sites(): readonly SiteMetrics[];
  concurrency(): readonly ConcurrencyMetrics[];
  reloads(): { readonly succeeded: number; readonly failed: number };
  /** 1 when the last reload failed validation and the old config still runs. */
  configError(): boolean;
}

export interface Metrics {
  readonly registry: Registry;
  /** Called by the upload stage for each finished upload. */
  observeUpload(site: string, seconds: number): void;
  /** The exposition format, as served on the metrics path. */
  text(): Promise<string>;
}

/** 10 ms to 5 min: a small file on a LAN up to a large multipart upload on a slow link. */
export const UPLOAD_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

const DATA_LABELS = ["local_path", "bucket", "bucket_path", "site"];
const SCOPES = ["local", "cloud", "watcher"] as const;
const STAGES = ["checksum", "upload"] as const;

const dataLabels = (s: SiteMetrics): Labels => ({
  local_path: s.localPath,
  bucket: s.bucket,
  bucket_path: s.bucketPath,
  site: s.site,
});

export function createMetrics(source: MetricsSource): Metrics {
  const registry = new Registry();
  const sites = perScrape(() => source.sites());
  const gauge = (name: string, help: string, labelNames: string[], rows: () => Row[]) =>
    defineGauge(registry, { name, help, labelNames, rows });
  const counter = (name: string, help: string, labelNames: string[], rows: () => Row[]) =>
    defineCounter(registry, { name, help, labelNames, rows });
  const perSite = (pick: (s: SiteMetrics) => number) => (): Row[] =>
    sites().map((s) => [{ site: s.site }, pick(s)]);
  const perStage = (pick: (s: SiteMetrics) => SiteMetrics["queued"]) => (): Row[] =>
    sites().flatMap((s) => STAGES.map((stage): Row => [{ site: s.site, stage }, pick(s)[stage]]));

  // The Go tool's three series: same names, types and labels, so dashboards and alerts carry over.
  gauge(
    "s3sync_data_total_size",
    "Total size of the synced objects",
    DATA_LABELS,
    () => sites().map((s) => [dataLabels(s), s.totalSize]),
  );
  gauge(
    "s3sync_data_objects_count",
    "Total number of the synced objects",
    DATA_LABELS,
    () => sites().map((s) => [dataLabels(s), s.objects]),
  );
  counter(
    "s3sync_errors_count",
    "Number of errors, could be used for alerting",
    [...DATA_LABELS, "scope"],
    () =>
      sites().flatMap((s) =>
        SCOPES.map((scope): Row => [{ ...dataLabels(s), scope }, s.errors[scope]])
      ),
  );

  counter("s3sync_uploads_total", "Files uploaded", ["site"], perSite((s) => s.uploaded));
  counter("s3sync_copies_total", "Objects copied within S3", ["site"], perSite((s) => s.copied));
  counter("s3sync_deletes_total", "Objects deleted from S3", ["site"], perSite((s) => s.deleted));
  counter(
    "s3sync_failed_jobs_total",
    "Jobs that failed for good",
    ["site"],
    perSite((s) => s.failedJobs),
  );
  counter(
    "s3sync_uploaded_bytes_total",
    "Bytes uploaded",
    ["site"],
    perSite((s) => s.bytesUploaded),
  );
  gauge(
    "s3sync_queue_length",
    "Jobs waiting for a stage",
    ["site", "stage"],
    perStage((s) => s.queued),
  );
  gauge(
    "s3sync_in_flight",
    "Jobs a stage is working on",
    ["site", "stage"],
    perStage((s) => s.inFlight),
  );
  gauge(
    "s3sync_parked_jobs",
    "Jobs set aside until the next reconcile",
    ["site"],
    perSite((s) => s.parked),
  );
  gauge(
    "s3sync_last_reconcile_timestamp_seconds",
    "When the site last finished reconciling",
    ["site"],
    () =>
      sites().flatMap((s): Row[] =>
        s.lastReconcileAt ? [[{ site: s.site }, s.lastReconcileAt.getTime() / 1000]] : []
      ),
  );
  gauge(
    "s3sync_delete_guard_tripped",
    "1 while the site holds deletes back, over max_delete, until they are confirmed",
    ["site"],
    perSite((s) => s.deletesHeld > 0 ? 1 : 0),
  );
  gauge(
    "s3sync_deletes_held",
    "Deletes the delete guard holds back",
    ["site"],
    perSite((s) => s.deletesHeld),
  );
  gauge(
    "s3sync_upload_concurrency",
    "Uploads allowed in flight to an endpoint now (upload_workers: auto)",
    ["endpoint"],
    () => source.concurrency().map((c) => [{ endpoint: c.endpoint }, c.limit]),
  );
  counter(
    "s3sync_upload_concurrency_changes_total",
    "Changes of the uploads allowed in flight, by reason: grow, latency, throttled, stalled",
    ["endpoint", "reason"],
    () =>
      source.concurrency().flatMap((c) =>
        Object.entries(c.changes).map(([reason, n]): Row => [{ endpoint: c.endpoint, reason }, n])
      ),
  );
  counter("s3sync_config_reloads_total", "Config reloads by result", ["result"], () => {
    const { succeeded, failed } = source.reloads();
    return [[{ result: "success" }, succeeded], [{ result: "failure" }, failed]];
  });
  gauge(
    "s3sync_config_error",
    "1 when the last reload failed and the previous config still runs",
    [],
    () => [[{}, source.configError() ? 1 : 0]],
  );

  // Observed as uploads finish, so it can't be rebuilt at scrape time: prune gone sites instead,
  // and start current ones at zero so rate() has a series before the first upload.
  const known = new Set<string>();
  const uploads = new Histogram({
    name: "s3sync_upload_duration_seconds",
    help: "Time to upload one file, multipart included",
    labelNames: ["site"],
    buckets: UPLOAD_BUCKETS,
    registers: [registry],
    collect() {
      const current = new Set(sites().map((s) => s.site));
      for (const site of known) {
        if (current.has(site)) continue;
        this.remove({ site });
        known.delete(site);
      }
      for (const site of current) {
        if (known.has(site)) continue;
        this.zero({ site });
        known.add(site);
      }
    },
  });

  registerProcessMetrics(registry);

  return {
    registry,
    observeUpload(site, seconds) {
      known.add(site);
      uploads.observe({ site }, seconds);
    },
    text: () => registry.metrics(),
  };
}
