import assert from "node:assert/strict";
import { resolveConfig } from "./config/resolve.ts";
import { absolutePath } from "./config/test_support.ts";
import { TokenBucket } from "./lib/token_bucket.ts";
import { AUTO_INITIAL, AUTO_MAX, Uploads } from "./uploads.ts";

const config = (raw: Record<string, unknown>) =>
  resolveConfig(
    {
      ...raw,
      sites: [
        { local_path: absolutePath("/a"), bucket: "a", endpoint: "http://one:9000" },
        { local_path: absolutePath("/b"), bucket: "b", endpoint: "http://one:9000" },
        {
          local_path: absolutePath("/c"),
          bucket: "c",
          endpoint: "http://two:9000",
          bandwidth_limit: "1MiB/s",
        },
      ],
    },
    {},
    2,
  ).config;

Deno.test("Uploads with auto: one adaptive limit per endpoint, shared by its sites", () => {
  const c = config({});
  const uploads = new Uploads(c, new TokenBucket(0));
  const [a, b, other] = c.sites.map((site) => uploads.forSite(site));
  assert.equal(a?.limiter, b?.limiter);
  assert.notEqual(a?.limiter, other?.limiter);
  assert.equal(a?.max, AUTO_MAX);
  assert.ok(a?.hooks.observe);
  // No limit anywhere: nothing to pace, bodies go out whole.
  assert.equal(a?.hooks.pace, undefined);
  assert.ok(other?.hooks.pace);
  assert.equal(uploads.workers, 2 * AUTO_INITIAL);
  assert.deepEqual(uploads.endpoints().map((e) => [e.endpoint, e.limit, e.change]), [
    ["http://one:9000", AUTO_INITIAL, "start"],
    ["http://two:9000", AUTO_INITIAL, "start"],
  ]);
});

Deno.test("Uploads with a number: that many for all sites together, as the Go tool", () => {
  const c = config({ upload_workers: 7 });
  const uploads = new Uploads(c, new TokenBucket(0));
  const [a, , other] = c.sites.map((site) => uploads.forSite(site));
  assert.equal(a?.limiter, other?.limiter);
  assert.equal(a?.limiter.limit, 7);
  assert.equal(a?.hooks.observe, undefined);
  assert.equal(uploads.workers, 7);
  assert.deepEqual(uploads.endpoints(), []);
});

Deno.test("Uploads pace a site by its own limit and the global one in turn", async () => {
  const c = config({});
  let globalTaken = 0;
  // A global limit far above what the test sends, so that nothing waits.
  const total = new TokenBucket(1e12);
  const take = total.take.bind(total);
  total.take = (bytes, signal) => {
    globalTaken += bytes;
    return take(bytes, signal);
  };
  const uploads = new Uploads(c, total);
  const [a, , limited] = c.sites.map((site) => uploads.forSite(site));
  await a?.hooks.pace?.(1000);
  await limited?.hooks.pace?.(1000);
  assert.equal(globalTaken, 2000);
});
