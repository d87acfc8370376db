import assert from "node:assert/strict";
import { createMetrics, UPLOAD_BUCKETS } from "./metrics.ts";
import { fakeSource, parse, site } from "./test_support.ts";

async function scrape(metrics: { text(): Promise<string> }) {
  const { types, samples } = parse(await metrics.text());
  const of = (name: string) => samples.filter((s) => s.name === name);
  return { types, of };
}

Deno.test("createMetrics() keeps the Go tool's series names, types and labels", async () => {
  const { types, of } = await scrape(createMetrics(fakeSource([site("photos")]).source));
  assert.equal(types.get("s3sync_data_total_size"), "gauge");
  assert.equal(types.get("s3sync_data_objects_count"), "gauge");
  assert.equal(types.get("s3sync_errors_count"), "counter");
  const labels = {
    local_path: "/data/photos",
    bucket: "backup",
    bucket_path: "photos",
    site: "photos",
  };
  assert.deepEqual(of("s3sync_data_total_size"), [{
    name: "s3sync_data_total_size",
    labels,
    value: 3000,
  }]);
  assert.deepEqual(of("s3sync_data_objects_count"), [{
    name: "s3sync_data_objects_count",
    labels,
    value: 3,
  }]);
  assert.deepEqual(of("s3sync_errors_count").map((s) => [s.labels, s.value]), [
    [{ ...labels, scope: "local" }, 1],
    [{ ...labels, scope: "cloud" }, 2],
    [{ ...labels, scope: "watcher" }, 0],
  ]);
});

Deno.test("createMetrics() exposes the new per-site series", async () => {
  const { types, of } = await scrape(createMetrics(fakeSource([site("photos")]).source));
  const perSite: [string, string, number][] = [
    ["s3sync_uploads_total", "counter", 5],
    ["s3sync_copies_total", "counter", 1],
    ["s3sync_deletes_total", "counter", 2],
    ["s3sync_failed_jobs_total", "counter", 1],
    ["s3sync_uploaded_bytes_total", "counter", 4096],
    ["s3sync_parked_jobs", "gauge", 1],
    ["s3sync_last_reconcile_timestamp_seconds", "gauge", Date.parse("2026-11-24T10:00:00Z") / 1000],
  ];
  for (const [name, type, value] of perSite) {
    assert.equal(types.get(name), type, name);
    assert.deepEqual(of(name).map((s) => [s.labels, s.value]), [[{ site: "photos" }, value]], name);
  }
  assert.equal(types.get("s3sync_queue_length"), "gauge");
  assert.deepEqual(of("s3sync_queue_length").map((s) => [s.labels, s.value]), [
    [{ site: "photos", stage: "checksum" }, 4],
    [{ site: "photos", stage: "upload" }, 2],
  ]);
  assert.equal(types.get("s3sync_in_flight"), "gauge");
  assert.deepEqual(of("s3sync_in_flight").map((s) => [s.labels, s.value]), [
    [{ site: "photos", stage: "checksum" }, 1],
    [{ site: "photos", stage: "upload" }, 3],
  ]);
});

Deno.test("createMetrics() exposes reload results and the config error flag", async () => {
  const { source, state } = fakeSource([]);
  const metrics = createMetrics(source);
  let { types, of } = await scrape(metrics);
  assert.equal(types.get("s3sync_config_reloads_total"), "counter");
  assert.deepEqual(of("s3sync_config_reloads_total").map((s) => [s.labels, s.value]), [
    [{ result: "success" }, 2],
    [{ result: "failure" }, 1],
  ]);
  assert.equal(types.get("s3sync_config_error"), "gauge");
  assert.deepEqual(of("s3sync_config_error").map((s) => [s.labels, s.value]), [[{}, 0]]);
  state.configError = true;
  ({ of } = await scrape(metrics));
  assert.deepEqual(of("s3sync_config_error").map((s) => s.value), [1]);
});

Deno.test("createMetrics() omits the reconcile timestamp of a site that has not reconciled", async () => {
  const sites = [site("photos"), site("docs", { lastReconcileAt: undefined })];
  const { of } = await scrape(createMetrics(fakeSource(sites).source));
  assert.deepEqual(of("s3sync_last_reconcile_timestamp_seconds").map((s) => s.labels.site), [
    "photos",
  ]);
  assert.deepEqual(of("s3sync_data_total_size").map((s) => s.labels.site), ["photos", "docs"]);
});

Deno.test("createMetrics() drops a removed site and resets counters after a reload", async () => {
  const { source, state } = fakeSource([site("photos"), site("docs")]);
  const metrics = createMetrics(source);
  metrics.observeUpload("docs", 0.5);
  let { of } = await scrape(metrics);
  assert.equal(of("s3sync_upload_duration_seconds_count").length, 2);
  state.sites = [site("photos", { uploaded: 0, errors: { local: 0, cloud: 0, watcher: 0 } })];
  ({ of } = await scrape(metrics));
  const text = await metrics.text();
  assert.ok(!text.includes('"docs"'), "no series mentions the removed site");
  assert.deepEqual(of("s3sync_uploads_total").map((s) => [s.labels, s.value]), [[
    { site: "photos" },
    0,
  ]]);
  assert.deepEqual(of("s3sync_errors_count").map((s) => s.value), [0, 0, 0]);
  assert.deepEqual(of("s3sync_upload_duration_seconds_count").map((s) => s.labels), [{
    site: "photos",
  }]);
});

Deno.test("createMetrics() fills the upload histogram's buckets from observeUpload()", async () => {
  const metrics = createMetrics(fakeSource([site("photos"), site("docs")]).source);
  for (const seconds of [0.005, 0.2, 3, 400]) metrics.observeUpload("photos", seconds);
  const { types, of } = await scrape(metrics);
  assert.equal(types.get("s3sync_upload_duration_seconds"), "histogram");
  const buckets = of("s3sync_upload_duration_seconds_bucket").filter((s) =>
    s.labels.site === "photos"
  );
  assert.deepEqual(buckets.map((s) => s.labels.le), [...UPLOAD_BUCKETS.map(String), "+Inf"]);
  const count = (le: string) => buckets.find((s) => s.labels.le === le)?.value;
  assert.deepEqual([
    count("0.01"),
    count("0.1"),
    count("0.25"),
    count("5"),
    count("300"),
    count("+Inf"),
  ], [1, 1, 2, 3, 3, 4]);
  assert.deepEqual(of("s3sync_upload_duration_seconds_sum").map((s) => [s.labels.site, s.value]), [
    ["photos", 403.205],
    ["docs", 0],
  ]);
  assert.equal(UPLOAD_BUCKETS[0], 0.01);
  assert.equal(UPLOAD_BUCKETS.at(-1), 300);
});

Deno.test("createMetrics() escapes quotes, backslashes and newlines in label values", async () => {
  const name = 'my "site"\\x\nnext';
  const metrics = createMetrics(fakeSource([site(name, { localPath: "C:\\data" })]).source);
  const text = await metrics.text();
  assert.ok(text.includes('site="my \\"site\\"\\\\x\\nnext"'), "escaped in the raw text");
  assert.ok(text.includes('local_path="C:\\\\data"'));
  const samples = parse(text).samples;
  const of = (series: string) => samples.filter((s) => s.name === series);
  assert.deepEqual(of("s3sync_parked_jobs").map((s) => s.labels.site), [name]);
  assert.deepEqual(of("s3sync_data_objects_count").map((s) => s.labels.local_path), ["C:\\data"]);
});

Deno.test("createMetrics() reads the sites once per scrape and survives bad numbers", async () => {
  const { source, state } = fakeSource([
    site("photos", { uploaded: -1, deleted: NaN, totalSize: Infinity }),
  ]);
  const metrics = createMetrics(source);
  const { of } = await scrape(metrics);
  assert.equal(state.calls, 1);
  assert.deepEqual([of("s3sync_uploads_total")[0]?.value, of("s3sync_deletes_total")[0]?.value], [
    0,
    0,
  ]);
  assert.equal(of("s3sync_data_total_size")[0]?.value, 0);
  await metrics.text();
  assert.equal(state.calls, 2);
});

Deno.test("createMetrics() includes the process metrics that work under Deno, each in its own registry", async () => {
  const first = createMetrics(fakeSource([]).source);
  const second = createMetrics(fakeSource([]).source);
  const { types } = await scrape(second);
  for (
    const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_eventloop_lag_seconds",
      "nodejs_heap_size_used_bytes",
    ]
  ) {
    assert.ok(types.has(name), name);
  }
  for (
    const name of [
      "nodejs_gc_duration_seconds",
      "nodejs_active_handles",
      "nodejs_active_requests_total",
    ]
  ) {
    assert.ok(!types.has(name), name);
  }
  assert.notEqual(first.registry, second.registry);
});

Deno.test("createMetrics() shows each endpoint's upload concurrency and why it moved", async () => {
  const { types, of } = await scrape(createMetrics(fakeSource([site("photos")]).source));
  assert.equal(types.get("s3sync_upload_concurrency"), "gauge");
  assert.equal(types.get("s3sync_upload_concurrency_changes_total"), "counter");
  assert.deepEqual(of("s3sync_upload_concurrency").map((s) => [s.labels, s.value]), [
    [{ endpoint: "http://s3.test" }, 12],
  ]);
  assert.deepEqual(of("s3sync_upload_concurrency_changes_total").map((s) => [s.labels, s.value]), [
    [{ endpoint: "http://s3.test", reason: "grow" }, 2],
    [{ endpoint: "http://s3.test", reason: "throttled" }, 1],
  ]);
});
