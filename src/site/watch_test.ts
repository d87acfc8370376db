import assert from "node:assert/strict";
import { posix, win32 } from "node:path";
import { withDeadline } from "../lib/deadline.ts";
import { LocalPaths } from "../lib/local_paths.ts";
import { setLogLevel } from "../lib/log.ts";
import type { FollowSymlinks } from "../config/types.ts";
import { LinkWatches, MAX_LINK_WATCHES } from "./link_watch.ts";
import { SiteLinks } from "./links.ts";
import { walkInKeyOrder } from "./walk.ts";
import { pathsIn, type Watched, watchSite } from "./watch.ts";

setLogLevel("error");

// These tests make symlinks, which Windows allows only with a privilege; follow_symlinks is
// refused on Windows (src/config/check.ts), and a link as the root is a POSIX deployment.
const LINKS = { ignore: Deno.build.os === "windows" };

/**
 * Whether `site` asked for `count` comparisons. macOS's FSEvents may deliver the creation of the
 * watched folder itself after the watch started (it batches events, and may hand over some made
 * just before), which asks for one more; inotify and Windows never report the watched folder.
 */
function assertReconciles(site: FakeSite, count: number): void {
  if (Deno.build.os === "darwin") assert.ok(site.reconciles >= count, `${site.reconciles}`);
  else assert.equal(site.reconciles, count);
}

/** Records what the watcher tells its site; `until` waits for a state, never for a time. */
class FakeSite implements Watched {
  readonly config: Watched["config"];
  readonly links: SiteLinks;
  readonly due = new Set<string>();
  readonly downs: string[] = [];
  reconciles = 0;
  ups = 0;
  #changed = () => {};

  constructor(localPath: string, follow: FollowSymlinks = false) {
    this.config = { name: "fake", localPath, watchIntervalMs: 0 };
    this.links = new SiteLinks(localPath, follow);
  }

  /** Walks the tree as the feeder does, which tells `links` what the links are. */
  async walk(): Promise<void> {
    const links = { links: this.links, site: "fake" };
    for await (const _ of walkInKeyOrder(this.config.localPath, "", () => true, () => {}, links));
    this.links.settle();
  }

  markDue(rel: string): void {
    this.due.add(rel);
    this.#changed();
  }

  noteMove(_from: string, to: string): string {
    return to;
  }

  requestReconcile(): void {
    this.reconciles++;
    this.#changed();
  }

  watcherDown(message: string): void {
    this.downs.push(message);
    this.#changed();
  }

  watcherUp(): void {
    this.ups++;
    this.#changed();
  }

  async until(what: string, check: () => boolean): Promise<void> {
    const waiting = (async () => {
      while (!check()) await new Promise<void>((resolve) => this.#changed = resolve);
    })();
    await withDeadline(waiting, 10_000, what);
  }
}

/** Re-points the link at `path` to `target` in one step, as `ln -sfn` followed by a rename does. */
async function repoint(path: string, target: string): Promise<void> {
  await Deno.symlink(target, `${path}.new`);
  await Deno.rename(`${path}.new`, path);
}

/**
 * Runs `body` while watchSite() watches `dir/site`, a link to the folder `dir/a`, checking the root
 * every 50 ms; once the first watch is up. Removes `dir` afterwards.
 */
async function watchingLinkedRoot(
  body: (dir: string, site: FakeSite) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/a`);
  await Deno.symlink(`${dir}/a`, `${dir}/site`);
  const site = new FakeSite(`${dir}/site`);
  const stop = new AbortController();
  const watching = watchSite(site, stop.signal, { rootCheckMs: 50 });
  try {
    await site.until("the first watch", () => site.ups === 1);
    await body(dir, site);
  } finally {
    stop.abort();
    await watching;
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test(
  "watchSite() watches the new folder, and asks for a comparison, when its link is re-pointed",
  LINKS,
  () =>
    watchingLinkedRoot(async (dir, site) => {
      await Deno.mkdir(`${dir}/b`);
      await Deno.writeTextFile(`${dir}/a/one.txt`, "1");
      await site.until("one.txt due", () => site.due.has("one.txt"));
      // Nothing happens inside either folder: only the periodic check can see the new target.
      await repoint(`${dir}/site`, `${dir}/b`);
      await site.until("a second watch and a comparison", () => site.ups === 2);
      assertReconciles(site, 1);
      await Deno.writeTextFile(`${dir}/a/old.txt`, "old");
      await Deno.writeTextFile(`${dir}/b/two.txt`, "2");
      await site.until("two.txt due", () => site.due.has("two.txt"));
      assert.equal(site.due.has("old.txt"), false);
      assert.deepEqual(site.downs, []);
    }),
);

Deno.test(
  "watchSite() reports a root that is gone without an event, and resumes when it is back",
  LINKS,
  () =>
    watchingLinkedRoot(async (dir, site) => {
      // The watch is on the link's target, which sees nothing of the link's removal.
      await Deno.remove(`${dir}/site`);
      await site.until("the outage", () => site.downs.length === 1);
      assert.match(
        site.downs[0]!,
        /site" was removed or moved; watching it again when it is back$/,
      );
      await Deno.symlink(`${dir}/a`, `${dir}/site`);
      await site.until("the watch back and a comparison", () => site.ups === 2);
      assertReconciles(site, 1);
      await Deno.writeTextFile(`${dir}/a/back.txt`, "back");
      await site.until("back.txt due", () => site.due.has("back.txt"));
    }),
);

Deno.test("watchSite() stops as soon as its signal aborts, with the default check period", async () => {
  const dir = await Deno.makeTempDir();
  const site = new FakeSite(dir);
  const stop = new AbortController();
  const watching = watchSite(site, stop.signal);
  try {
    await site.until("the first watch", () => site.ups === 1);
  } finally {
    // The 5 s check's timer is cleared: the test's sanitizers fail on a timer or a watcher left.
    stop.abort();
    await watching;
    await Deno.remove(dir, { recursive: true });
  }
  assertReconciles(site, 0);
});

async function tree(): Promise<{ root: string; outside: string }> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "s3sync-linkwatch-" }));
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  await Deno.mkdir(`${root}/real`, { recursive: true });
  await Deno.mkdir(outside);
  await Deno.symlink("real", `${root}/inl`);
  await Deno.symlink("../outside", `${root}/outl`);
  return { root, outside };
}

async function watching(site: FakeSite, test: () => Promise<void>): Promise<void> {
  await site.walk();
  const stop = new AbortController();
  const watch = watchSite(site, stop.signal);
  try {
    await site.until("the watcher is up", () => site.ups > 0);
    await test();
  } finally {
    stop.abort();
    await watch;
  }
}

Deno.test(
  "watchSite() names a change behind a followed folder link by the link's path and its own",
  LINKS,
  async () => {
    const { root } = await tree();
    const site = new FakeSite(root, true);
    await watching(site, async () => {
      await Deno.writeTextFile(`${root}/real/c.txt`, "c");
      await site.until(
        "both paths due",
        () => site.due.has("real/c.txt") && site.due.has("inl/c.txt"),
      );
    });
  },
);

Deno.test(
  "watchSite() with any watches a followed link's folder outside the tree",
  LINKS,
  async () => {
    const { root, outside } = await tree();
    const site = new FakeSite(root, "any");
    await watching(site, async () => {
      await Deno.mkdir(`${outside}/sub`);
      await site.until("the new folder due", () => site.due.has("outl/sub"));
      await Deno.writeTextFile(`${outside}/sub/o.txt`, "o");
      await site.until("the file due", () => site.due.has("outl/sub/o.txt"));
    });
  },
);

Deno.test("watchSite() never names a change by a link it does not follow", LINKS, async () => {
  const { root } = await tree();
  const site = new FakeSite(root, false);
  await watching(site, async () => {
    await Deno.writeTextFile(`${root}/real/c.txt`, "c");
    await Deno.writeTextFile(`${root}/last.txt`, "last");
    // Events come in order: once the last file is due, the first one's have been handled.
    await site.until(
      "both files due",
      () => site.due.has("real/c.txt") && site.due.has("last.txt"),
    );
    assert.deepEqual([...site.due].filter((rel) => rel.startsWith("inl")), []);
  });
});

Deno.test("LinkWatches keeps at most MAX_LINK_WATCHES watches behind links", LINKS, async () => {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "s3sync-linkwatch-" }));
  await Deno.mkdir(`${base}/root`);
  for (let i = 0; i < MAX_LINK_WATCHES + 3; i++) {
    await Deno.mkdir(`${base}/out${i}`);
    await Deno.symlink(`../out${i}`, `${base}/root/l${i}`);
  }
  const site = new FakeSite(`${base}/root`, "any");
  await site.walk();
  const watches = new LinkWatches(site);
  try {
    watches.update(true);
    assert.equal(watches.size, MAX_LINK_WATCHES);
  } finally {
    await watches.close();
  }
  assert.equal(watches.size, 0);
});

Deno.test("the watcher names event paths through the one path module, Windows paths included", () => {
  const windows = new LocalPaths("C:\\data", win32);
  const links = new SiteLinks("C:\\data");
  assert.deepEqual(pathsIn(links, windows, "C:\\data\\photos\\a.jpg"), ["photos/a.jpg"]);
  assert.deepEqual(pathsIn(links, windows, "\\\\?\\C:\\data\\b.txt"), ["b.txt"]);
  assert.deepEqual(pathsIn(links, windows, "C:\\data"), []);
  assert.deepEqual(pathsIn(links, windows, "C:\\database\\x"), []);
  const macos = new LocalPaths("/private/tmp/site", posix);
  const macLinks = new SiteLinks("/private/tmp/site");
  assert.deepEqual(pathsIn(macLinks, macos, "/private/tmp/site/a b.txt"), ["a b.txt"]);
  assert.deepEqual(pathsIn(macLinks, macos, "/tmp/site/a.txt"), []);
});
