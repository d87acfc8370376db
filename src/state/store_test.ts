import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { certifies, FIND_MOVED, StateStore } from "./store.ts";
import { setLogLevel } from "../lib/log.ts";

setLogLevel("error");

const FILE = { size: 10, mtimeMs: 1000.5, ctimeMs: 2000, ino: 42, etag: "abc", seenAtMs: 9000 };

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
  const { etag: _, seenAtMs: __, ...file } = FILE;
  assert.equal(site.findMoved("new.txt", file), "old.txt");
  assert.equal(site.findMoved("old.txt", file), undefined);
  assert.equal(site.findMoved("new.txt", { ...file, mtimeMs: 1 }), undefined);
  store.close();
});

Deno.test("StateStore in a folder it cannot create is off, and every call still works", async () => {
  // Below a regular file, so that mkdir fails on every system and for root too.
  const store = StateStore.open(`${await Deno.makeTempFile()}/state`);
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

Deno.test("certifies() trusts a row only for the same stamp taken a full second after the change", () => {
  const { etag: _, seenAtMs: __, ...stamp } = FILE;
  assert.equal(certifies(FILE, stamp), true);
  assert.equal(certifies(undefined, stamp), false);
  for (const changed of [{ size: 11 }, { mtimeMs: 1000 }, { ctimeMs: 2001 }, { ino: 43 }]) {
    assert.equal(certifies(FILE, { ...stamp, ...changed }), false, JSON.stringify(changed));
  }
  // Racily clean: the stamp was taken within the second of the last change (ctime 2000 ms).
  assert.equal(certifies({ ...FILE, seenAtMs: 2999 }, stamp), false);
  assert.equal(certifies({ ...FILE, seenAtMs: 3000 }, stamp), true);
  // A platform without ctime: the mtime stands in.
  const noCtime = { ...FILE, ctimeMs: 0, mtimeMs: 8_500 };
  assert.equal(certifies(noCtime, { ...stamp, ctimeMs: 0, mtimeMs: 8_500 }), false);
  assert.equal(
    certifies({ ...noCtime, mtimeMs: 8_000 }, { ...stamp, ctimeMs: 0, mtimeMs: 8_000 }),
    true,
  );
});

Deno.test("StateStore empties a store written by an earlier version", async () => {
  const dir = await Deno.makeTempDir();
  // The layout of version 1, which had no user_version and no seen_at_ms.
  const old = new DatabaseSync(`${dir}/state.sqlite`);
  old.exec(`CREATE TABLE files (site TEXT NOT NULL, rel TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ms REAL NOT NULL, ctime_ms REAL NOT NULL, ino INTEGER NOT NULL, etag TEXT NOT NULL,
    PRIMARY KEY (site, rel)) WITHOUT ROWID`);
  old.prepare("INSERT INTO files VALUES ('s', 'a', 10, 1000.5, 2000, 42, 'wrong')").run();
  old.close();
  const store = StateStore.open(dir);
  assert.equal(store.usable, true);
  assert.equal(store.forSite("s").get("a"), undefined);
  store.forSite("s").put("a", FILE);
  store.close();
  const again = StateStore.open(dir);
  assert.deepEqual(again.forSite("s").get("a"), FILE);
  again.close();
});

Deno.test("StateStore.findMoved() looks rows up by inode, never scanning the site", async () => {
  const dir = await Deno.makeTempDir();
  StateStore.open(dir).close();
  const db = new DatabaseSync(`${dir}/state.sqlite`);
  const plan = db.prepare(`EXPLAIN QUERY PLAN ${FIND_MOVED}`).all("s", 1, 2, 3, "x");
  db.close();
  const steps = plan.map((row) => String(row.detail));
  assert.deepEqual(steps.filter((step) => /\bSCAN\b|PRIMARY KEY/.test(step)), [], steps.join("; "));
  assert.ok(steps.some((step) => step.includes("files_by_ino")), steps.join("; "));
});

Deno.test("StateStore commits its writes in batches, and close() commits the rest", async () => {
  const dir = await Deno.makeTempDir();
  const store = StateStore.open(dir);
  const site = store.forSite("s");
  for (let i = 0; i < 2_500; i++) site.put(`f${i}`, { ...FILE, ino: i });
  assert.deepEqual(site.get("f2499"), { ...FILE, ino: 2499 }); // seen before it is committed
  // Another connection sees the committed batches (two of 1,000 rows), not the open one.
  const other = new DatabaseSync(`${dir}/state.sqlite`);
  const count = () => (other.prepare("SELECT count(*) AS n FROM files").get() as { n: number }).n;
  assert.equal(count(), 2_000);
  store.close();
  assert.equal(count(), 2_500);
  other.close();
});
