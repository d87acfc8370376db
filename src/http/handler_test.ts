import assert from "node:assert/strict";
import { createHandler } from "./handler.ts";
import { setLogLevel } from "../lib/log.ts";
import { assertHeaders, fakeSource, OFFSET_TIME, setup, STARTUP, SYNCED } from "./test_support.ts";

// Request lines would clutter the test output; the logger itself has its own tests.
setLogLevel("error");

Deno.test("createHandler() GET /info returns the Go tool's keys plus sites, reload error and concurrency", async () => {
  const { call } = setup();
  const response = await call("/info");
  assert.equal(response.status, 200);
  assertHeaders(response);
  const body = await response.json();
  assert.deepEqual(Object.keys(body), [
    "VERSION",
    "STARTUPTIME",
    "STATUS",
    "SITES",
    "UPLOADWORKERS",
    "CHECKSUMWORKERS",
    "LOGLEVEL",
    "SITE_STATES",
    "RELOAD_ERROR",
    "UPLOAD_CONCURRENCY",
  ]);
  assert.deepEqual(body.UPLOAD_CONCURRENCY, [
    { endpoint: "http://s3.test", limit: 12, reason: "grow: steady" },
  ]);
  assert.deepEqual([body.SITES, body.UPLOADWORKERS, body.CHECKSUMWORKERS, body.LOGLEVEL], [
    2,
    10,
    4,
    "info",
  ]);
  assert.equal(body.VERSION, "1.2.3");
  assert.equal(body.STATUS, "RUNNING");
  assert.equal(body.RELOAD_ERROR, null);
  assert.match(body.STARTUPTIME, OFFSET_TIME);
  assert.deepEqual(new Date(body.STARTUPTIME).getTime(), STARTUP.getTime());
  assert.deepEqual(body.SITE_STATES[1], {
    name: "docs",
    initial_sync_done: false,
    queued: 0,
    in_flight: 0,
    parked: 3,
    last_error: "Cannot list",
    last_sync: null,
    delete_guard: {
      tripped: true,
      held: 20,
      max_delete: 10,
      recently_deleted: 0,
      since: body.SITE_STATES[1].delete_guard.since,
      sample: ["docs/a.txt", "docs/b.txt"],
    },
  });
  assert.equal(new Date(body.SITE_STATES[1].delete_guard.since).getTime(), SYNCED.getTime());
  assert.equal(body.SITE_STATES[0].delete_guard, null);
  const photos = body.SITE_STATES[0];
  assert.deepEqual([
    photos.name,
    photos.initial_sync_done,
    photos.queued,
    photos.in_flight,
    photos.parked,
    photos.last_error,
  ], [
    "photos",
    true,
    2,
    1,
    0,
    null,
  ]);
  assert.match(photos.last_sync, OFFSET_TIME);
  assert.deepEqual(new Date(photos.last_sync).getTime(), SYNCED.getTime());
});

Deno.test("createHandler() shows the last reload error until it clears", async () => {
  const { source } = fakeSource();
  const handler = createHandler({ ...source, lastReloadError: () => "sites[0].bucket: required" });
  const body = await (await handler(new Request("http://localhost/info"))).json();
  assert.equal(body.RELOAD_ERROR, "sites[0].bucket: required");
});

for (const status of ["STARTING", "RUNNING", "RELOADING"] as const) {
  Deno.test(`createHandler() GET /healthz is 200 while ${status}`, async () => {
    const response = await setup(status).call("/healthz");
    assert.equal(response.status, 200);
    assertHeaders(response);
    assert.deepEqual((await response.json()).STATUS, status);
  });
}

Deno.test("createHandler() GET /healthz is 503 while STOPPING", async () => {
  const response = await setup("STOPPING").call("/healthz");
  assert.equal(response.status, 503);
  assertHeaders(response);
  assert.equal((await response.json()).STATUS, "STOPPING");
});

Deno.test("createHandler() HEAD /info and /healthz are allowed", async () => {
  const { call } = setup();
  assert.equal((await call("/info", { method: "HEAD" })).status, 200);
  assert.equal((await call("/healthz", { method: "HEAD" })).status, 200);
});

Deno.test("createHandler() unknown paths are 404", async () => {
  const { call } = setup();
  for (const path of ["/", "/metrics", "/info/", "/INFO", "/reload/x"]) {
    const response = await call(path);
    assert.equal(response.status, 404, path);
    assertHeaders(response);
    assert.deepEqual(await response.json(), { error: "not found" });
  }
});

Deno.test("createHandler() a known path with a wrong method is 405 with Allow", async () => {
  const { call, reloads } = setup();
  const cases: [string, string, string][] = [
    ["/info", "POST", "GET, HEAD"],
    ["/healthz", "DELETE", "GET, HEAD"],
    ["/reload", "PUT", "GET, POST"],
    ["/reload", "HEAD", "GET, POST"],
  ];
  for (const [path, method, allow] of cases) {
    const response = await call(path, { method });
    assert.equal(response.status, 405, `${method} ${path}`);
    assertHeaders(response);
    assert.deepEqual(response.headers.get("Allow"), allow);
  }
  assert.deepEqual(reloads, []);
});

Deno.test("createHandler() a long query or URL is 414", async () => {
  const { call, reloads } = setup();
  for (const path of [`/reload?force&x=${"a".repeat(1024)}`, `/info/${"a".repeat(4096)}`]) {
    const response = await call(path);
    assert.equal(response.status, 414);
    assertHeaders(response);
  }
  assert.equal((await call(`/info?x=${"a".repeat(1000)}`)).status, 200, "just under the limit");
  assert.deepEqual(reloads, []);
});

Deno.test("createHandler() logs one line per request except /healthz, without secrets or query values", async () => {
  const lines: string[] = [];
  const original = Deno.stderr.writeSync;
  Deno.stderr.writeSync = (data) => (lines.push(new TextDecoder().decode(data)), data.length);
  setLogLevel("info");
  try {
    const { call } = setup("RUNNING", { token: "s3cr3t-token" });
    await call("/healthz");
    await call("/info?secret-query-value");
    await call("/reload?force&other=private", {
      method: "POST",
      headers: { Authorization: "Bearer s3cr3t-token" },
    });
  } finally {
    setLogLevel("error");
    Deno.stderr.writeSync = original;
  }
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? "", / INFO +http request method=GET path=\/info status=200\n$/);
  assert.match(
    lines[1] ?? "",
    / INFO +http request method=POST path=\/reload status=200 force=true\n$/,
  );
  assert.doesNotMatch(lines.join(""), /s3cr3t|secret-query|private/);
});
