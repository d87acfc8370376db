import assert from "node:assert/strict";
import { withDeadline } from "../lib/deadline.ts";
import { join } from "node:path";
import { watchConfigFile } from "./watch_file.ts";

const QUIET_MS = 20;
const DEADLINE_MS = 5000;

const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
  withDeadline(promise, DEADLINE_MS, what);

/**
 * Watches `path` in a fresh folder; each onChange records the file's text at that moment, so a
 * test can tell which write it answered.
 */
async function withWatch(
  setup: (dir: string) => Promise<string>,
  fn: (dir: string, calls: Calls) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "s3sync-watch-" });
  const controller = new AbortController();
  let done: Promise<void> | undefined;
  try {
    const path = await setup(dir);
    const calls = new Calls(path);
    done = watchConfigFile(path, calls.add, controller.signal, { quietMs: QUIET_MS });
    await fn(dir, calls);
  } finally {
    controller.abort();
    if (done) await within(done, "the watcher to stop");
    await Deno.remove(dir, { recursive: true });
  }
}

class Calls {
  readonly seen: string[] = [];
  #waiting: Array<{ count: number; resolve: () => void }> = [];
  constructor(readonly path: string) {}
  add = (): void => {
    this.seen.push(Deno.readTextFileSync(this.path));
    for (const w of this.#waiting.filter((w) => w.count <= this.seen.length)) w.resolve();
  };
  count(count: number): Promise<void> {
    if (this.seen.length >= count) return Promise.resolve();
    return within(
      new Promise((resolve) => this.#waiting.push({ count, resolve })),
      `${count} calls`,
    );
  }
}

const plainFile = async (dir: string) => {
  const path = join(dir, "config.yml");
  await Deno.writeTextFile(path, "v1\n");
  return path;
};

Deno.test("watchConfigFile() calls once for a rewrite, not for the same content", async () => {
  await withWatch(plainFile, async (dir, calls) => {
    const path = join(dir, "config.yml");
    await Deno.writeTextFile(path, "v2\n");
    await calls.count(1);
    await Deno.writeTextFile(path, "v2\n");
    await Deno.writeTextFile(join(dir, "unrelated.txt"), "noise");
    await Deno.writeTextFile(path, "v3\n");
    await calls.count(2);
    assert.deepEqual(calls.seen, ["v2\n", "v3\n"]);
  });
});

Deno.test({
  name: "watchConfigFile() sees kubelet's ..data swap of a ConfigMap volume",
  // Kubelet's layout exists on Linux nodes only; Windows needs a privilege to create symlinks and
  // cannot rename one folder link over another.
  ignore: Deno.build.os === "windows",
  fn: kubeletSwap,
});

async function kubeletSwap(): Promise<void> {
  const kubeletLayout = async (dir: string) => {
    await Deno.mkdir(join(dir, "..2026_11_24_A"));
    await Deno.writeTextFile(join(dir, "..2026_11_24_A", "config.yml"), "old\n");
    await Deno.symlink("..2026_11_24_A", join(dir, "..data"));
    await Deno.symlink("..data/config.yml", join(dir, "config.yml"));
    return join(dir, "config.yml");
  };
  await withWatch(kubeletLayout, async (dir, calls) => {
    await Deno.mkdir(join(dir, "..2026_11_24_B"));
    await Deno.writeTextFile(join(dir, "..2026_11_24_B", "config.yml"), "new\n");
    await Deno.symlink("..2026_11_24_B", join(dir, "..data_tmp"));
    await Deno.rename(join(dir, "..data_tmp"), join(dir, "..data"));
    await Deno.remove(join(dir, "..2026_11_24_A"), { recursive: true });
    await calls.count(1);
    assert.deepEqual(calls.seen, ["new\n"]);
  });
}

Deno.test("watchConfigFile() stops when the signal aborts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "s3sync-watch-" });
  try {
    const controller = new AbortController();
    let calls = 0;
    const done = watchConfigFile(await plainFile(dir), () => calls++, controller.signal);
    controller.abort();
    await within(done, "the watcher to stop");
    assert.equal(calls, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("watchConfigFile() names the file when its folder cannot be watched", async () => {
  const path = "/nonexistent-s3sync-folder/config.yml";
  await assert.rejects(watchConfigFile(path, () => {}, new AbortController().signal), {
    message: /^Cannot watch config file "\/nonexistent-s3sync-folder\/config.yml": /,
  });
});
