import assert from "node:assert/strict";
import { withDeadline } from "../lib/deadline.ts";
import { setLogLevel } from "../lib/log.ts";
import { type Watched, watchSite } from "./watch.ts";

setLogLevel("error");

/** Records what the watcher tells its site; `until` waits for a state, never for a time. */
class FakeSite implements Watched {
  readonly config: Watched["config"];
  readonly due = new Set<string>();
  readonly downs: string[] = [];
  reconciles = 0;
  ups = 0;
  #changed = () => {};

  constructor(localPath: string) {
    this.config = { name: "fake", localPath, watchIntervalMs: 0 };
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

Deno.test("watchSite() watches the new folder, and asks for a comparison, when its link is re-pointed", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/a`);
  await Deno.mkdir(`${dir}/b`);
  await Deno.symlink(`${dir}/a`, `${dir}/site`);
  const site = new FakeSite(`${dir}/site`);
  const stop = new AbortController();
  const watching = watchSite(site, stop.signal, { rootCheckMs: 50 });
  try {
    await site.until("the first watch", () => site.ups === 1);
    await Deno.writeTextFile(`${dir}/a/one.txt`, "1");
    await site.until("one.txt due", () => site.due.has("one.txt"));
    // Nothing happens inside either folder: only the periodic check can see the new target.
    await repoint(`${dir}/site`, `${dir}/b`);
    await site.until("a second watch and a comparison", () => site.ups === 2);
    assert.equal(site.reconciles, 1);
    await Deno.writeTextFile(`${dir}/a/old.txt`, "old");
    await Deno.writeTextFile(`${dir}/b/two.txt`, "2");
    await site.until("two.txt due", () => site.due.has("two.txt"));
    assert.equal(site.due.has("old.txt"), false);
    assert.deepEqual(site.downs, []);
  } finally {
    stop.abort();
    await watching;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("watchSite() reports a root that is gone without an event, and resumes when it is back", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/a`);
  await Deno.symlink(`${dir}/a`, `${dir}/site`);
  const site = new FakeSite(`${dir}/site`);
  const stop = new AbortController();
  const watching = watchSite(site, stop.signal, { rootCheckMs: 50 });
  try {
    await site.until("the first watch", () => site.ups === 1);
    // The watch is on the link's target, which sees nothing of the link's removal.
    await Deno.remove(`${dir}/site`);
    await site.until("the outage", () => site.downs.length === 1);
    assert.match(site.downs[0]!, /site" was removed or moved; watching it again when it is back$/);
    await Deno.symlink(`${dir}/a`, `${dir}/site`);
    await site.until("the watch back and a comparison", () => site.ups === 2);
    assert.equal(site.reconciles, 1);
    await Deno.writeTextFile(`${dir}/a/back.txt`, "back");
    await site.until("back.txt due", () => site.due.has("back.txt"));
  } finally {
    stop.abort();
    await watching;
    await Deno.remove(dir, { recursive: true });
  }
});

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
  assert.equal(site.reconciles, 0);
});
