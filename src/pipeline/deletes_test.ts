import assert from "node:assert/strict";
import { DeleteBatcher, DeleteRefused } from "./deletes.ts";
import { S3Error } from "../store/s3_error.ts";
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

/** A store whose deletes of `locked` keys are refused with AccessDenied; counts what it is sent. */
function lockedStore(locked: Set<string>) {
  const sent: string[] = [];
  const store = {
    bucket: "b",
    deleteMany: (keys: readonly string[]) => {
      sent.push(...keys);
      const failed = new Map<string, string>();
      for (const key of keys) if (locked.has(key)) failed.set(key, "Access Denied (AccessDenied)");
      return Promise.resolve(failed);
    },
    deleteOne: (key: string) => {
      sent.push(key);
      if (!locked.has(key)) return Promise.resolve();
      const cause = Object.assign(new Error("Access Denied"), {
        code: "AccessDenied",
        $metadata: { httpStatusCode: 403 },
      });
      return Promise.reject(new S3Error("delete", "site", "b", key, cause));
    },
  } as unknown as ObjectStore;
  return { store, sent };
}

Deno.test("DeleteBatcher refuses a locked key for the pass and deletes the rest of its batch", async () => {
  const { store, sent } = lockedStore(new Set(["locked"]));
  const batcher = new DeleteBatcher(store, "site");
  const results = await Promise.allSettled(["a", "locked", "b"].map((key) => batcher.delete(key)));
  assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.deepEqual(sent, ["a", "locked", "b"]);
  const refused = (results[1] as PromiseRejectedResult).reason;
  assert.ok(refused instanceof DeleteRefused);
  assert.equal(refused.key, "locked");
  assert.equal(refused.known, false);
  assert.match(
    refused.message,
    /^Cannot delete "locked" in bucket "b" \(site "site"\): Access Denied/,
  );
  assert.equal(batcher.refused, 1);

  // Asked again in the same pass (a parked retry, a new event): refused at once, nothing sent.
  for (let i = 0; i < 5; i++) {
    const again = await batcher.delete("locked").catch((err) => err);
    assert.ok(again instanceof DeleteRefused && again.known);
  }
  assert.deepEqual(sent, ["a", "locked", "b"]);
});

Deno.test("DeleteBatcher tries a refused key once a pass, and knows it was reported", async () => {
  const locked = new Set(["locked"]);
  const { store, sent } = lockedStore(locked);
  const batcher = new DeleteBatcher(store, "site");
  await assert.rejects(
    batcher.delete("locked"),
    (err) => err instanceof DeleteRefused && !err.known,
  );
  batcher.newPass();
  assert.equal(batcher.refused, 0);
  // Still locked at the next full comparison: one request, and reported already.
  await assert.rejects(
    batcher.delete("locked"),
    (err) => err instanceof DeleteRefused && err.known,
  );
  assert.deepEqual(sent, ["locked", "locked"]);
  // The lock expired: the next pass deletes it.
  locked.delete("locked");
  batcher.newPass();
  await batcher.delete("locked");
  assert.equal(batcher.refused, 0);
  // Locked anew later on (a new object under the same key): a new refusal, reported again.
  locked.add("locked");
  batcher.newPass();
  await assert.rejects(
    batcher.delete("locked"),
    (err) => err instanceof DeleteRefused && !err.known,
  );
  assert.deepEqual(sent, ["locked", "locked", "locked", "locked"]);
});

Deno.test("DeleteBatcher treats a DeleteObject answered 403 AccessDenied as refused", async () => {
  const { store, sent } = lockedStore(new Set(["ctl\u0001"]));
  const batcher = new DeleteBatcher(store, "site");
  const err = await batcher.delete("ctl\u0001").catch((e) => e);
  assert.ok(err instanceof DeleteRefused && !err.known);
  // A literal, not a RegExp: lint refuses control characters in a pattern.
  assert.ok(
    err.message.startsWith('Cannot delete "ctl\u0001" in bucket "b" (site "site"): Access Denied'),
    err.message,
  );
  await assert.rejects(batcher.delete("ctl\u0001"), DeleteRefused);
  assert.deepEqual(sent, ["ctl\u0001"]);
});

Deno.test("DeleteBatcher keeps other per-key errors ordinary, to be retried", async () => {
  const batcher = new DeleteBatcher(
    fakeStore(() =>
      Promise.resolve(new Map([["k", "We encountered an internal error (InternalError)"]]))
    ),
    "site",
  );
  const err = await batcher.delete("k").catch((e) => e);
  assert.ok(err instanceof S3Error && !(err instanceof DeleteRefused));
  assert.equal(err.code, "InternalError");
  assert.equal(batcher.refused, 0);
});
