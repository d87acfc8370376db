import assert from "node:assert/strict";
import type { FollowSymlinks } from "../config/types.ts";
import { compareKeys } from "../lib/key_order.ts";
import { setLogLevel } from "../lib/log.ts";
import { statFile } from "../pipeline/check.ts";
import { SiteLinks } from "./links.ts";
import { walkInKeyOrder } from "./walk.ts";

setLogLevel("error");

// Every test here makes symlinks, which Windows allows only with a privilege, and
// follow_symlinks is refused on Windows (src/config/check.ts).
const LINKS = { ignore: Deno.build.os === "windows" };

/**
 * root/                          outside/
 *   a.txt                          o.txt
 *   b.txt
 *   b -> real        (folder)
 *   b0
 *   c -> real        (folder, a second path to it)
 *   dangling -> nowhere
 *   out -> ../outside (folder outside the tree)
 *   real/x.txt
 *   real/up -> ..    (a loop: the root is above it)
 *   z -> a.txt       (file)
 */
async function tree(): Promise<{ root: string; outside: string }> {
  const base = await Deno.makeTempDir({ prefix: "s3sync-links-" });
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  await Deno.mkdir(`${root}/real`, { recursive: true });
  await Deno.mkdir(outside);
  for (const rel of ["a.txt", "b.txt", "b0", "real/x.txt"]) {
    await Deno.writeTextFile(`${root}/${rel}`, rel);
  }
  await Deno.writeTextFile(`${outside}/o.txt`, "outside");
  await Deno.symlink("real", `${root}/b`);
  await Deno.symlink("real", `${root}/c`);
  await Deno.symlink("nowhere", `${root}/dangling`);
  await Deno.symlink("../outside", `${root}/out`);
  await Deno.symlink("..", `${root}/real/up`);
  await Deno.symlink("a.txt", `${root}/z`);
  return { root, outside };
}

async function walk(root: string, follow: FollowSymlinks, dir = "", links?: SiteLinks) {
  const rels: string[] = [];
  const errors: string[] = [];
  links ??= new SiteLinks(root, follow);
  const walking = walkInKeyOrder(root, dir, () => true, (rel) => errors.push(rel), {
    links,
    site: "t",
  });
  for await (const entry of walking) rels.push(entry.unreadable ? `!${entry.rel}` : entry.rel);
  assert.deepEqual(errors, []);
  return rels;
}

function assertKeyOrder(rels: string[]): void {
  assert.deepEqual([...rels].sort(compareKeys), rels);
}

Deno.test("walkInKeyOrder() skips every symlink when follow_symlinks is false", LINKS, async () => {
  const { root } = await tree();
  assert.deepEqual(await walk(root, false), ["a.txt", "b.txt", "b0", "real/x.txt"]);
});

Deno.test(
  "walkInKeyOrder() with true walks links inside the tree at their own paths, in key order",
  LINKS,
  async () => {
    const { root } = await tree();
    const rels = await walk(root, true);
    // "b.txt" < "b/x.txt" < "b0": the link "b" sorts as the folder "b/" would. The loop
    // (real/up, and b/up and c/up, which lead to the root too), the dangling link and the link
    // to outside are skipped.
    assert.deepEqual(rels, ["a.txt", "b.txt", "b/x.txt", "b0", "c/x.txt", "real/x.txt", "z"]);
    assertKeyOrder(rels);
  },
);

Deno.test("walkInKeyOrder() with any follows a link to outside the tree too", LINKS, async () => {
  const { root } = await tree();
  const rels = await walk(root, "any");
  assert.deepEqual(rels, [
    "a.txt",
    "b.txt",
    "b/x.txt",
    "b0",
    "c/x.txt",
    "out/o.txt",
    "real/x.txt",
    "z",
  ]);
  assertKeyOrder(rels);
});

Deno.test(
  "walkInKeyOrder() walks a followed link's folder from its own path, and finds nothing behind a loop",
  LINKS,
  async () => {
    const { root } = await tree();
    assert.deepEqual(await walk(root, true, "b"), ["b/x.txt"]);
    assert.deepEqual(await walk(root, true, "real/up"), []);
    assert.deepEqual(await walk(root, false, "real"), ["real/x.txt"]);
  },
);

Deno.test(
  "walkInKeyOrder() reads a link to an ancestor of the root as a loop, under any",
  LINKS,
  async () => {
    const { root } = await tree();
    // root/above -> its parent, which holds root itself: walking it would come back to the root.
    await Deno.symlink("..", `${root}/above`);
    const rels = await walk(root, "any");
    assert.ok(rels.includes("above/outside/o.txt"), rels.join(" "));
    assert.ok(!rels.some((rel) => rel.startsWith("above/root/")), rels.join(" "));
    assertKeyOrder(rels);
  },
);

Deno.test(
  "SiteLinks.pathsOf() names a real path by its own path and by each followed link to it",
  LINKS,
  async () => {
    const { root, outside } = await tree();
    const links = new SiteLinks(root, "any");
    await walk(root, "any", "", links);
    const realRoot = await Deno.realPath(root);
    assert.deepEqual(links.pathsOf(`${realRoot}/real/new.txt`).sort(), [
      "b/new.txt",
      "c/new.txt",
      "real/new.txt",
    ]);
    assert.deepEqual(links.pathsOf(`${await Deno.realPath(outside)}/o.txt`), ["out/o.txt"]);
    assert.deepEqual(links.pathsOf(`${realRoot}/a.txt`).sort(), ["a.txt", "z"]);
    assert.deepEqual(links.outsideTargets(), [{
      path: await Deno.realPath(outside),
      recursive: true,
    }]);
    assert.ok(links.throughLink("b/x.txt"));
    assert.ok(!links.throughLink("real/x.txt"));
    // A walk of "b" again forgets and finds only what is under it.
    links.forgetUnder("b");
    assert.deepEqual(links.pathsOf(`${realRoot}/real/new.txt`).sort(), [
      "c/new.txt",
      "real/new.txt",
    ]);
  },
);

Deno.test(
  "SiteLinks.outsideTargets() watches each outside folder once, and a file link's folder for its entries",
  LINKS,
  async () => {
    const { root, outside } = await tree();
    await Deno.mkdir(`${outside}/sub`);
    await Deno.symlink("../outside/sub", `${root}/deep`); // inside "out"'s target: no watch of its own
    await Deno.symlink("../outside/o.txt", `${root}/o`); // its folder is watched through "out"
    const other = await Deno.realPath(await Deno.makeTempDir({ prefix: "s3sync-links-other-" }));
    await Deno.writeTextFile(`${other}/f.txt`, "f");
    await Deno.symlink(`${other}/f.txt`, `${root}/f`);
    const links = new SiteLinks(root, "any");
    await walk(root, "any", "", links);
    assert.deepEqual(links.outsideTargets(), [
      { path: await Deno.realPath(outside), recursive: true },
      { path: other, recursive: false },
    ]);
    assert.deepEqual(links.pathsOf(`${other}/f.txt`), ["f"]);
    assert.deepEqual(links.pathsOf(`${other}/unrelated.txt`), []);
  },
);

Deno.test(
  "statFile() follows a link only as the site's rule says, with the target's stamp",
  LINKS,
  async () => {
    const { root } = await tree();
    const target = await Deno.stat(`${root}/a.txt`);
    const site = (follow: FollowSymlinks) => new SiteLinks(root, follow);
    assert.equal(await statFile(`${root}/z`), undefined);
    assert.equal(await statFile(`${root}/z`, site(false)), undefined);
    const file = await statFile(`${root}/z`, site(true));
    assert.equal(file?.ino, target.ino);
    assert.equal(file?.size, target.size);
    await Deno.symlink("../outside/o.txt", `${root}/o`);
    assert.equal(await statFile(`${root}/o`, site(true)), undefined);
    assert.equal((await statFile(`${root}/o`, site("any")))?.size, "outside".length);
    assert.equal(await statFile(`${root}/dangling`, site("any")), undefined);
    await Deno.symlink("ring2", `${root}/ring1`);
    await Deno.symlink("ring1", `${root}/ring2`);
    assert.equal(await statFile(`${root}/ring1`, site("any")), undefined);
    assert.equal(await statFile(`${root}/b`, site("any")), undefined); // a folder
  },
);

Deno.test(
  "statFile() finds no file through a folder link the site's walks skip",
  LINKS,
  async () => {
    const { root } = await tree();
    const off = new SiteLinks(root, false);
    assert.ok(await statFile(`${root}/b/x.txt`, off), "the system opens it through the link");
    await walk(root, false, "", off);
    assert.equal(await statFile(`${root}/b/x.txt`, off), undefined);
    assert.ok(await statFile(`${root}/real/x.txt`, off));
    const following = new SiteLinks(root, true);
    await walk(root, true, "", following);
    assert.ok(await statFile(`${root}/b/x.txt`, following));
    // The loop is skipped: nothing through it is a file, though the system would open it.
    assert.equal(await statFile(`${root}/real/up/a.txt`, following), undefined);
  },
);
