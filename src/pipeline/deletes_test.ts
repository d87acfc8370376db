import assert from "node:assert/strict";
import { DeleteBatcher } from "./deletes.ts";
import type { ObjectStore } from "../store/types.ts";

/** Only what the batcher uses; the rest is never called. */
function fakeStore(deleteMany: (keys: readonly string[]) => Promise<Map<string, string>>) {
  return { bucket: "b", deleteMany } as unknown as ObjectStore;
}

Deno.test("DeleteBatcher sends the deletes that arrive together in one request", async () => {
  const batches: string[][] = [];
  const batcher = new DeleteBatcher(
    fakeStore((keys) => {
      batches.push([...keys]);
      return Promise.resolve(new Map([["bad", "AccessDenied"]]));
    }),
    "site",
  );
  const results = await Promise.allSettled(["a", "b", "bad"].map((key) => batcher.delete(key)));
  assert.deepEqual(batches, [["a", "b", "bad"]]);
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "fulfilled", "rejected"]);
  const reason = (results[2] as PromiseRejectedResult).reason as Error;
  assert.match(reason.message, /^Cannot delete "bad" in bucket "b" \(site "site"\): AccessDenied/);
});

Deno.test("DeleteBatcher fails every delete of a request that fails", async () => {
  const batcher = new DeleteBatcher(fakeStore(() => Promise.reject(new Error("down"))), "site");
  const results = await Promise.allSettled(["a", "b"].map((key) => batcher.delete(key)));
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
});

Deno.test("DeleteBatcher splits more than 1,000 keys into several requests", async () => {
  const sizes: number[] = [];
  const batcher = new DeleteBatcher(
    fakeStore((keys) => {
      sizes.push(keys.length);
      return Promise.resolve(new Map());
    }),
    "site",
  );
  await Promise.all(Array.from({ length: 2500 }, (_, i) => batcher.delete(`k${i}`)));
  assert.deepEqual(sizes, [1000, 1000, 500]);
});

Deno.test("DeleteBatcher sends keys XML cannot carry alone, so they never fail a batch", async () => {
  const batches: string[][] = [];
  const singles: string[] = [];
  const store = {
    bucket: "b",
    deleteMany: (keys: readonly string[]) => {
      batches.push([...keys]);
      return Promise.resolve(new Map<string, string>());
    },
    deleteOne: (key: string) => {
      singles.push(key);
      return key === "denied\u0002" ? Promise.reject(new Error("AccessDenied")) : Promise.resolve();
    },
  } as unknown as ObjectStore;
  const batcher = new DeleteBatcher(store, "site");
  const keys = ["a", "ctl\u0001", "Icon\r", "\uFFFF", "denied\u0002", "lone\uD800", "b"];
  const results = await Promise.allSettled(keys.map((key) => batcher.delete(key)));
  assert.deepEqual(batches, [["a", "Icon\r", "b"]]);
  assert.deepEqual(singles, ["ctl\u0001", "\uFFFF", "denied\u0002", "lone\uD800"]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"],
  );
});
