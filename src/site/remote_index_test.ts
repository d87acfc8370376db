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
  assert.equal(index.hasUnder(""), false);
});
