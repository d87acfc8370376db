import assert from "node:assert/strict";
import { serveHttp } from "./server.ts";
import { createHandler, type StatusSource } from "./handler.ts";
import { setLogLevel } from "../lib/log.ts";

setLogLevel("error");

const source: StatusSource = {
  version: "1.2.3",
  startupTime: new Date(),
  status: () => "RUNNING",
  sites: () => [],
  concurrency: () => [],
  lastReloadError: () => undefined,
  settings: () => ({ uploadWorkers: 1, checksumWorkers: 1, logLevel: "info" }),
  requestReload: () => {},
  confirmDelete: () => undefined,
};

Deno.test("serveHttp() serves the handler on a random port and stops on the signal", async () => {
  const controller = new AbortController();
  const served = await serveHttp(createHandler(source), {
    host: "127.0.0.1",
    port: 0,
    signal: controller.signal,
  });
  try {
    assert.ok(served.port > 0);
    const response = await fetch(`http://127.0.0.1:${served.port}/info`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("Server"), "s3sync-service");
    assert.equal((await response.json()).VERSION, "1.2.3");
  } finally {
    controller.abort();
    await served.finished;
  }
});

Deno.test("serveHttp() reports a port already in use", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  try {
    await assert.rejects(
      serveHttp(createHandler(source), {
        host: "127.0.0.1",
        port,
        signal: new AbortController().signal,
      }),
      { message: `Cannot listen on 127.0.0.1:${port}: address in use` },
    );
  } finally {
    listener.close();
  }
});
