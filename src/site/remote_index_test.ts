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
