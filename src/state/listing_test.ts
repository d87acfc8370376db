import assert from "node:assert/strict";
import { compareKeys } from "../lib/key_order.ts";
import type { RemoteObject } from "../store/types.ts";
import { LISTING_FILE, ListingStore } from "./listing.ts";

const object = (rel: string, size = 1, etag = "e"): RemoteObject => ({
  key: `p/${rel}`,
  size,
  etag,
  storageClass: "STANDARD",
});

const newIndex = () => ListingStore.inMemory().index((rel) => `p/${rel}`);

async function* pages(...lists: (readonly string[])[]) {
  for (const list of lists) yield list.map((rel) => [rel, object(rel)] as const);
}

Deno.test("RemoteIndex keeps objects by path, with their key, count and total size", () => {
  const index = newIndex();
  index.set("a/b.txt", object("a/b.txt", 5, "x"));
  index.set("a/b.txt", object("a/b.txt", 7, "y")); // replaced, not counted twice
  index.set("c", object("c", 3));
  assert.deepEqual(index.get("a/b.txt"), object("a/b.txt", 7, "y"));
  assert.deepEqual([index.size, index.bytes, index.has("c"), index.has("a")], [2, 10, true, false]);
  assert.equal(index.delete("c"), true);
  assert.equal(index.delete("c"), false);
  assert.deepEqual([index.size, index.bytes, index.get("c")], [1, 7, undefined]);
});

Deno.test("RemoteIndex.keysUnder() gives one folder's keys in S3's order, page by page", () => {
  const index = newIndex();
  const rels = ["a/1", "a/b/2", "a/b/c/3", "ab/4", "a.txt", "a0", "top", "a/\u{1F600}", "a/\uFFFF"];
  for (const rel of rels) index.set(rel, object(rel));
  assert.deepEqual([...index.keysUnder("a")], [
    "a/1",
    "a/b/2",
    "a/b/c/3",
    "a/\uFFFF",
    "a/\u{1F600}",
  ]);
  assert.deepEqual([...index.keysUnder("a/b")], ["a/b/2", "a/b/c/3"]);
  assert.deepEqual([...index.keysUnder("")], [...rels].sort(compareKeys));
  assert.deepEqual([...index.keysUnder("top")], []);
  // More than a page, with the index changing while it is read: what lies ahead shows up.
  for (let i = 0; i < 2500; i++) index.set(`big/${String(i).padStart(4, "0")}`, object("x"));
  const seen: string[] = [];
  for (const rel of index.keysUnder("big")) {
    seen.push(rel);
    if (rel === "big/0000") index.set("big/9999", object("x"));
    if (rel === "big/0001") index.delete("big/2000");
  }
  assert.equal(seen.length, 2500);
  assert.equal(seen.at(-1), "big/9999");
  assert.ok(!seen.includes("big/2000"));
});

Deno.test("RemoteIndex.refresh() keeps what changed while the listing ran", async () => {
  const index = newIndex();
  index.set("deleted.txt", object("deleted.txt"));
  index.set("stays.txt", object("stays.txt"));
  index.set("gone.txt", object("gone.txt"));
  async function* listing() {
    // The listing's pages were read before these two changes completed.
    yield* pages(["deleted.txt", "stays.txt"]);
    index.delete("deleted.txt");
    index.set("uploaded.txt", object("uploaded.txt", 1, "new"));
    yield* pages(["new-remote.txt", "uploaded.txt"]);
  }
  await index.refresh(listing());
  assert.deepEqual([...index.keysUnder("")], ["new-remote.txt", "stays.txt", "uploaded.txt"]);
  assert.equal(index.get("uploaded.txt")?.etag, "new");
  assert.deepEqual([index.size, index.bytes], [3, 3]);
  // Changes after the listing are no longer noted.
  await index.refresh(pages(["x"]));
  assert.deepEqual([...index.keysUnder("")], ["x"]);
});

Deno.test("RemoteIndex.refresh() that fails removes nothing", async () => {
  const index = newIndex();
  index.set("old.txt", object("old.txt"));
  async function* failing() {
    yield* pages(["new.txt"]);
    throw new Error("connection reset");
  }
  await assert.rejects(index.refresh(failing()), /connection reset/);
  assert.deepEqual([...index.keysUnder("")], ["new.txt", "old.txt"]);
  assert.equal(index.size, 2);
});

Deno.test("Sites' indexes are apart; the file is replaced at open and removed at close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/${LISTING_FILE}`, "left by a killed run");
    const store = ListingStore.open(dir);
    assert.equal(store.path, `${dir}/${LISTING_FILE}`);
    const [one, two] = [store.index((rel) => rel), store.index((rel) => rel)];
    one.set("a", object("a"));
    assert.deepEqual([two.has("a"), two.size], [false, 0]);
    store.close();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("A state_dir that cannot be written keeps the listings in memory", async () => {
  // Below a regular file, so that mkdir fails on every system and for root too.
  const store = ListingStore.open(`${await Deno.makeTempFile()}/state`);
  assert.equal(store.path, undefined);
  store.index((rel) => rel).set("a", object("a"));
  store.close();
});
