import assert from "node:assert/strict";
import { setLogLevel } from "../lib/log.ts";
import { assertHeaders, setup } from "./test_support.ts";

setLogLevel("error");

const FORCE_CASES: [string, boolean][] = [
  ["", false],
  ["?force", true],
  ["?force=", true],
  ["?force=true", true],
  ["?force=1", true],
  ["?force=TRUE", true],
  ["?force=false", false],
  ["?force=0", false],
  ["?other=1", false],
];
for (const method of ["GET", "POST"]) {
  for (const [query, force] of FORCE_CASES) {
    Deno.test(`createHandler() ${method} /reload${query} requests a reload with force=${force}`, async () => {
      const { call, reloads } = setup();
      const response = await call(`/reload${query}`, { method });
      assert.equal(response.status, 200);
      assertHeaders(response);
      assert.equal((await response.json()).VERSION, "1.2.3");
      assert.deepEqual(reloads, [force]);
    });
  }
}

Deno.test("createHandler() POST /reload cancels a huge body instead of reading it", async () => {
  const { call, reloads } = setup();
  let pulled = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull: (controller) => void (pulled++, controller.enqueue(new Uint8Array(64 * 1024))),
    cancel: () => void (cancelled = true),
  }, { highWaterMark: 0 });
  const response = await call("/reload", { method: "POST", body });
  assert.equal(response.status, 200);
  assert.deepEqual(reloads, [false]);
  assert.ok(cancelled);
  assert.ok(pulled <= 1, `pulled ${pulled} chunks`);
});

Deno.test("createHandler() /reload rejects a second reload within a second with 429", async () => {
  const { call, reloads, advance } = setup();
  assert.equal((await call("/reload")).status, 200);
  advance(999);
  const limited = await call("/reload?force", { method: "POST" });
  assert.equal(limited.status, 429);
  assertHeaders(limited);
  assert.equal(limited.headers.get("Retry-After"), "1");
  assert.deepEqual(await limited.json(), { error: "too many reload requests" });
  advance(1);
  assert.equal((await call("/reload?force")).status, 200);
  assert.deepEqual(reloads, [false, true]);
});

Deno.test("createHandler() /reload with a token requires the matching bearer", async () => {
  const { call, reloads, advance } = setup("RUNNING", { token: "s3cr3t-token" });
  for (
    const authorization of [
      undefined,
      "Bearer wrong-token",
      "Basic s3cr3t-token",
      "Bearer ",
      "s3cr3t-token",
    ]
  ) {
    const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
    const response = await call("/reload", { headers });
    assert.equal(response.status, 401, String(authorization));
    assertHeaders(response);
    assert.deepEqual(await response.json(), { error: "unauthorized" });
  }
  assert.deepEqual(reloads, [], "refused requests neither reload nor use up the rate limit");
  assert.deepEqual(
    (await call("/reload", { headers: { Authorization: "Bearer s3cr3t-token" } })).status,
    200,
  );
  advance(1000);
  assert.deepEqual(
    (await call("/reload?force", {
      method: "POST",
      headers: { Authorization: "bearer s3cr3t-token" },
    })).status,
    200,
  );
  assert.deepEqual(reloads, [false, true]);
  assert.equal((await call("/info")).status, 200, "/info stays open");
  assert.equal((await call("/healthz")).status, 200, "/healthz stays open");
});
