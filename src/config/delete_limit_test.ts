import assert from "node:assert/strict";
import { ConfigError } from "../lib/errors.ts";
import { readDeleteLimit } from "./delete_limit.ts";

Deno.test("readDeleteLimit() reads a count or a share", () => {
  assert.deepEqual(readDeleteLimit(1000, "max_delete"), { count: 1000 });
  assert.deepEqual(readDeleteLimit("1000", "max_delete"), { count: 1000 });
  assert.deepEqual(readDeleteLimit(0, "max_delete"), { count: 0 });
  assert.deepEqual(readDeleteLimit("50%", "max_delete"), { percent: 50 });
  assert.deepEqual(readDeleteLimit(" 12.5 % ", "max_delete"), { percent: 12.5 });
  assert.deepEqual(readDeleteLimit("100%", "max_delete"), { percent: 100 });
  assert.equal(readDeleteLimit(undefined, "max_delete"), undefined);
  assert.equal(readDeleteLimit(null, "max_delete"), undefined);
});

Deno.test("readDeleteLimit() refuses what is neither, naming the field", () => {
  for (const bad of [-1, 1.5, "101%", "half", "-5%", "5%%", true, [50]]) {
    assert.throws(
      () => readDeleteLimit(bad, "sites[0].max_delete"),
      (err: unknown) =>
        err instanceof ConfigError && /^sites\[0\]\.max_delete: must be a count/.test(err.message),
      String(bad),
    );
  }
});
