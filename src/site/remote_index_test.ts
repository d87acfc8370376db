import assert from "node:assert/strict";
import { RemoteIndex } from "./remote_index.ts";

const object = (key: string) => ({ key, size: 1, etag: "e", storageClass: "STANDARD" });

Deno.test("RemoteIndex knows which folders hold objects, as they come and go", () => {
  const index = new RemoteIndex();
  index.set("a/b/c.txt", object("a/b/c.txt"));
  index.set("a/b/c.txt", object("a/b/c.txt")); // replaced, not counted twice
  index.set("a/d.txt", object("a/d.txt"));
  index.set("top.txt", object("top.txt"));
  assert.deepEqual([index.hasUnder("a"), index.hasUnder("a/b"), index.hasUnder("ab")], [
    true,
    true,
    false,
  ]);
  index.delete("a/b/c.txt");
  assert.deepEqual([index.hasUnder("a"), index.hasUnder("a/b")], [true, false]);
  index.delete("a/d.txt");
  assert.equal(index.hasUnder("a"), false);
  index.clear();
  assert.equal(index.size, 0);
});

Deno.test("RemoteIndex.refresh() keeps what changed while the listing ran", async () => {
  const index = new RemoteIndex();
  index.set("deleted.txt", object("deleted.txt"));
  index.set("stays.txt", object("stays.txt"));
  await index.refresh(() => {
    // The listing's pages were read before these two changes completed.
    const listed = new Map([
      ["deleted.txt", object("deleted.txt")],
      ["stays.txt", object("stays.txt")],
      ["new-remote.txt", object("new-remote.txt")],
    ]);
    index.delete("deleted.txt");
    index.set("uploaded.txt", { ...object("uploaded.txt"), etag: "new" });
    return Promise.resolve(listed);
  });
  assert.deepEqual([...index.keys()].sort(), ["new-remote.txt", "stays.txt", "uploaded.txt"]);
  assert.equal(index.get("uploaded.txt")?.etag, "new");
  // Changes after the listing are no longer noted.
  await index.refresh(() => Promise.resolve(new Map([["x", object("x")]])));
  assert.deepEqual([...index.keys()], ["x"]);
  assert.equal(index.hasUnder(""), true);
});

Deno.test("RemoteIndex.keysUnder() lists one folder's keys, and the total size follows", () => {
  const index = new RemoteIndex();
  for (const rel of ["a/1", "a/b/2", "a/b/c/3", "ab/4", "top"]) index.set(rel, object(rel));
  assert.deepEqual(index.keysUnder("a").sort(), ["a/1", "a/b/2", "a/b/c/3"]);
  assert.deepEqual(index.keysUnder("a/b").sort(), ["a/b/2", "a/b/c/3"]);
  assert.deepEqual(index.keysUnder("").sort(), ["a/1", "a/b/2", "a/b/c/3", "ab/4", "top"]);
  assert.deepEqual(index.keysUnder("top"), []);
  assert.equal(index.bytes, 5);
  index.set("top", { ...object("top"), size: 10 });
  assert.equal(index.bytes, 14);
  index.delete("a/b/2");
  index.delete("a/b/c/3");
  assert.deepEqual([index.hasUnder("a/b"), index.hasUnder("a/b/c")], [false, false]);
  assert.deepEqual(index.keysUnder("a"), ["a/1"]);
  index.delete("a/1");
  assert.equal(index.hasUnder("a"), false);
  assert.deepEqual(index.keysUnder("").sort(), ["ab/4", "top"]);
  assert.equal(index.bytes, 11);
});
