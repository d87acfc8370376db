import assert from "node:assert/strict";
import { StateStore } from "./store.ts";
import { setLogLevel } from "../lib/log.ts";

setLogLevel("error");

const FILE = { size: 10, mtimeMs: 1000.5, ctimeMs: 2000, ino: 42, etag: "abc" };

Deno.test("StateStore keeps rows per site across reopening", async () => {
  const dir = await Deno.makeTempDir();
  const store = StateStore.open(`${dir}/nested/state`);
  assert.ok(store.usable);
  store.forSite("a").put("x.txt", FILE);
  assert.equal(store.forSite("b").get("x.txt"), undefined);
  store.close();
  const again = StateStore.open(`${dir}/nested/state`);
  assert.deepEqual(again.forSite("a").get("x.txt"), FILE);
  again.forSite("a").delete("x.txt");
  assert.equal(again.forSite("a").get("x.txt"), undefined);
  again.close();
});

Deno.test("StateStore.findMoved() finds the old name of a renamed file", async () => {
  const store = StateStore.open(await Deno.makeTempDir());
  const site = store.forSite("s");
  site.put("old.txt", FILE);
  const { etag: _, ...file } = FILE;
  assert.equal(site.findMoved("new.txt", file), "old.txt");
  assert.equal(site.findMoved("old.txt", file), undefined);
  assert.equal(site.findMoved("new.txt", { ...file, mtimeMs: 1 }), undefined);
  store.close();
});

Deno.test("StateStore in a folder it cannot create is off, and every call still works", () => {
  const store = StateStore.open("/proc/s3sync-cannot-exist");
  assert.equal(store.usable, false);
  const site = store.forSite("s");
  site.put("a", FILE);
  assert.equal(site.get("a"), undefined);
  assert.equal(site.findMoved("b", FILE), undefined);
  store.close();
});

Deno.test("StateStore over a corrupt file moves it aside and starts afresh", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/state.sqlite`, "this is not a database ".repeat(100));
  const store = StateStore.open(dir);
  assert.equal(store.usable, true);
  store.forSite("s").put("a", FILE);
  assert.deepEqual(store.forSite("s").get("a"), FILE);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.ok(names.some((name) => name.startsWith("state.sqlite.corrupt-")), names.join());
  store.close();
});
