import assert from "node:assert/strict";
import type { SiteConfig } from "../config/types.ts";
import type { RemoteObject } from "../store/types.ts";
import { type GuardHost, SiteGuard } from "./site_guard.ts";

/** A site of `objects` (path -> ETag) whose moves in progress are `moving`. */
function siteWith(objects: Record<string, string>, moving = new Set<string>()) {
  const remote = new Map<string, RemoteObject>(
    Object.entries(objects).map(([rel, etag]) => [
      rel,
      { key: rel, size: 1, etag, storageClass: "STANDARD" },
    ]),
  );
  // The fields the guard reads; the rest of a site's config plays no part here.
  const config = {
    name: "s",
    retireDeleted: true,
    maxDelete: { count: 1 },
    watchIntervalMs: 300,
    localPath: "/nowhere",
  } as SiteConfig;
  const host: GuardHost = {
    config,
    remote: {
      get size() {
        return remote.size;
      },
      get: (rel) => remote.get(rel),
    },
    keyOf: (rel) => rel,
    localPath: (rel) => `/nowhere/${rel}`,
    isMoveSource: (rel) => moving.has(rel),
    requestReconcile: () => {},
    recordError: () => {},
  };
  const guard = new SiteGuard(host, undefined, false);
  const retag = (rel: string, etag: string) => remote.set(rel, { ...remote.get(rel)!, etag });
  return { guard, remote, moving, retag };
}

Deno.test("SiteGuard: the delete of a completed move's old key goes uncounted, even when tripped", () => {
  const { guard } = siteWith({ "a/1": "e1", "a/2": "e2", "b/1": "c1", "x": "ex", "y": "ey" });
  guard.moved("a/1", "b/1", "e1", "c1");
  assert.equal(guard.survives("a/1"), true);
  assert.deepEqual(guard.admitDelete("a/1"), { verdict: "go" });
  // Two ordinary deletes trip a cap of 1; the survivor still goes, and counted for nothing.
  guard.admitDelete("x");
  assert.equal(guard.admitDelete("y").verdict, "held");
  assert.equal(guard.tripped?.count, 2);
  assert.equal(guard.tripped?.released, 0);
  assert.deepEqual(guard.admitDelete("a/1"), { verdict: "go" });
  assert.equal(guard.admitDelete("a/2").verdict, "held", "no copy was recorded for it");
});

Deno.test("SiteGuard: a move only proposed, or whose keys changed since its copy, is no survival", () => {
  const { guard, remote, moving, retag } = siteWith({ "a/1": "e1", "b/1": "c1", "a/2": "e2" });
  // Proposed: it waits for the copy, outside the count.
  moving.add("a/2");
  assert.equal(guard.survives("a/2"), false);
  assert.equal(guard.admitDelete("a/2").verdict, "wait");
  assert.equal(guard.tripped, undefined);

  guard.moved("a/1", "b/1", "e1", "c1");
  retag("b/1", "rewritten");
  assert.equal(guard.survives("a/1"), false, "the new key no longer holds the copy");
  retag("b/1", "c1");
  assert.equal(guard.survives("a/1"), true);
  retag("a/1", "another");
  assert.equal(guard.survives("a/1"), false, "the old key holds other bytes than were copied");
  retag("a/1", "e1");
  assert.equal(guard.survives("a/1"), false, "the record went with the object it spoke for");
  remote.delete("b/1");
  assert.equal(guard.survives("a/1"), false);
});
