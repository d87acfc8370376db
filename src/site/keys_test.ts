import assert from "node:assert/strict";
import { isIncluded, isUnder, KeyMap } from "./keys.ts";

Deno.test("KeyMap maps paths under the prefix exactly, never a neighbour's", () => {
  const keys = new KeyMap("data");
  assert.equal(keys.keyOf("a/b.txt"), "data/a/b.txt");
  assert.equal(keys.relOf("data/a/b.txt"), "a/b.txt");
  assert.equal(keys.relOf("data2/a.txt"), undefined);
  assert.equal(keys.relOf("data"), undefined);
});

Deno.test("KeyMap.relOf() refuses keys that cannot be a file", () => {
  const keys = new KeyMap("");
  for (const key of ["dir/", "a//b", "./a", "a/../b", "a/."]) {
    assert.equal(keys.relOf(key), undefined, key);
  }
  assert.equal(keys.relOf("plain"), "plain");
});

Deno.test("isUnder() compares whole path segments", () => {
  assert.equal(isUnder("a/b", "a"), true);
  assert.equal(isUnder("ab/c", "a"), false);
  assert.equal(isUnder("anything", ""), true);
});

Deno.test("isIncluded() needs an inclusion match and no exclusion match", () => {
  const site = { inclusions: [/\.jpg$/], exclusions: [/^cache\//] };
  assert.equal(isIncluded(site, "a.jpg"), true);
  assert.equal(isIncluded(site, "a.txt"), false);
  assert.equal(isIncluded(site, "cache/a.jpg"), false);
});
