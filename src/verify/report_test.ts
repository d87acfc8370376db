import assert from "node:assert/strict";
import { SiteReport, verifyJson } from "./report.ts";

Deno.test("verifyJson() sums the sites in snake_case numbers and keeps each site's own", () => {
  const a = new SiteReport("a");
  a.files = 3;
  a.equal = 2;
  a.counts.content = 1;
  a.counts["storage-class"] = 1;
  a.bytesHashed = 100;
  a.seconds = 1.25;
  const b = new SiteReport("b");
  b.files = 1;
  b.equal = 1;
  b.errors = 1;
  b.seconds = 0.5;
  const json = verifyJson([a, b], 1);
  assert.equal(json.mode, "verify");
  assert.equal(json.files, 4);
  assert.equal(json.equal, 3);
  assert.equal(json.content, 1);
  assert.equal(json.storage_class, 1);
  assert.equal(json.cannot_verify, 0);
  assert.equal(json.mismatches, 2);
  assert.equal(json.errors, 1);
  assert.equal(json.hashed_bytes, 100);
  assert.equal(json.seconds, 1.75);
  assert.equal(json.exit_code, 1);
  assert.equal(json.interrupted, false);
  assert.deepEqual((json.sites as { site: string }[]).map((s) => s.site), ["a", "b"]);
  assert.ok(Object.keys(json).every((key) => /^[a-z_]+$/.test(key)), Object.keys(json).join());
});

Deno.test("verifyJson() of no site has every total at 0", () => {
  const json = verifyJson([], 0);
  assert.equal(json.files, 0);
  assert.equal(json.missing, 0);
  assert.deepEqual(json.sites, []);
});
