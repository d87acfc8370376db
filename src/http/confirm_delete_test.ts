import assert from "node:assert/strict";
import { setLogLevel } from "../lib/log.ts";
import { assertHeaders, setup } from "./test_support.ts";

setLogLevel("error");

const POST = { method: "POST" };

Deno.test("createHandler() POST /confirm-delete approves the count the site holds", async () => {
  const { call, confirmed } = setup();
  const response = await call("/confirm-delete?site=docs&count=20", POST);
  assert.equal(response.status, 200);
  assertHeaders(response);
  assert.deepEqual(await response.json(), { site: "docs", confirmed: 20 });
  assert.deepEqual(confirmed, [20]);
});

Deno.test("createHandler() POST /confirm-delete with another count is 409 and says what is held", async () => {
  const { call } = setup();
  const response = await call("/confirm-delete?site=docs&count=19", POST);
  assert.equal(response.status, 409);
  const body = await response.json();
  assert.equal(body.held, 20);
  assert.match(body.error, /another count/);
});

Deno.test("createHandler() POST /confirm-delete needs a known site and a count", async () => {
  const { call, confirmed } = setup();
  assert.equal((await call("/confirm-delete?site=nope&count=1", POST)).status, 404);
  for (
    const query of ["", "?site=docs", "?count=20", "?site=docs&count=-1", "?site=docs&count=x"]
  ) {
    const response = await call(`/confirm-delete${query}`, POST);
    assert.equal(response.status, 400, query);
    await response.body?.cancel();
  }
  assert.deepEqual(confirmed, []);
});

Deno.test("createHandler() /confirm-delete is a POST only: a GET or a prefetch approves nothing", async () => {
  const { call, confirmed } = setup();
  const response = await call("/confirm-delete?site=docs&count=20");
  assert.equal(response.status, 405);
  assert.equal(response.headers.get("Allow"), "POST");
  assert.deepEqual(confirmed, []);
});

Deno.test("createHandler() POST /confirm-delete needs the token when one is set", async () => {
  const { call, confirmed } = setup("RUNNING", { token: "s3cr3t" });
  const path = "/confirm-delete?site=docs&count=20";
  const denied = await call(path, POST);
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get("WWW-Authenticate"), 'Bearer realm="s3sync-service"');
  const wrong = await call(path, { ...POST, headers: { Authorization: "Bearer nope" } });
  assert.equal(wrong.status, 401);
  assert.deepEqual(confirmed, []);
  const ok = await call(path, { ...POST, headers: { Authorization: "Bearer s3cr3t" } });
  assert.equal(ok.status, 200);
  assert.deepEqual(confirmed, [20]);
});
