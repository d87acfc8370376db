import assert from "node:assert/strict";
import { createMetrics } from "./metrics.ts";
import { serveMetrics } from "./server.ts";
import { setLogLevel } from "../lib/log.ts";

setLogLevel("error");

Deno.test("serveMetrics() serves the text on its path, 404 elsewhere, and stops on the signal", async () => {
  const metrics = createMetrics({
    sites: () => [],
    concurrency: () => [],
    reloads: () => ({ succeeded: 0, failed: 0 }),
    configError: () => false,
  });
  const controller = new AbortController();
  const served = await serveMetrics(metrics, {
    host: "127.0.0.1",
    port: 0,
    path: "/metrics",
    signal: controller.signal,
  });
  try {
    const response = await fetch(`http://127.0.0.1:${served.port}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    assert.match(await response.text(), /^# TYPE s3sync_config_error gauge$/m);
    const missing = await fetch(`http://127.0.0.1:${served.port}/info`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const wrong = await fetch(`http://127.0.0.1:${served.port}/metrics`, { method: "POST" });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("Allow"), "GET, HEAD");
    await wrong.body?.cancel();
  } finally {
    controller.abort();
    await served.finished;
  }
});
