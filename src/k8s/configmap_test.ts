import assert from "node:assert/strict";
import { withDeadline } from "../lib/deadline.ts";
import { readConfigMap, watchConfigMap } from "./configmap.ts";
import { FakeKubeApi } from "./fake_api.ts";

const NS = "sync";
const REF = { namespace: NS, name: "s3sync" };
const DEADLINE_MS = 5000;

const within = <T>(promise: Promise<T>, what: string): Promise<T> =>
  withDeadline(promise, DEADLINE_MS, what);

async function withApi(fn: (api: FakeKubeApi) => Promise<void>): Promise<void> {
  const api = new FakeKubeApi();
  try {
    await fn(api);
  } finally {
    await api.close();
  }
}

/** Runs a watch with a recorder of onChange calls; stops it and checks it ended. */
async function withWatch(
  api: FakeKubeApi,
  fn: (changes: Changes) => Promise<void>,
): Promise<void> {
  const changes = new Changes();
  const controller = new AbortController();
  const done = watchConfigMap(api.access(), REF, changes.add, controller.signal, {
    minBackoffMs: 5,
  });
  try {
    await within(api.watchesOpened(1), "the first watch");
    await fn(changes);
  } finally {
    controller.abort();
    await within(done, "the watch to stop");
  }
}

class Changes {
  readonly seen: string[] = [];
  #waiting: Array<{ count: number; resolve: () => void }> = [];
  add = (text: string): void => {
    this.seen.push(text);
    for (const w of this.#waiting.filter((w) => w.count <= this.seen.length)) w.resolve();
  };
  /** Resolves once `count` changes have been reported. */
  count(count: number): Promise<void> {
    if (this.seen.length >= count) return Promise.resolve();
    return within(
      new Promise((resolve) => this.#waiting.push({ count, resolve })),
      `${count} changes`,
    );
  }
}

Deno.test("readConfigMap() returns the config.yml text and the resourceVersion", async () => {
  await withApi(async (api) => {
    api.set(NS, "s3sync", { "config.yml": "sites: []\n", "other.txt": "x" });
    const read = await readConfigMap(api.access(), REF);
    assert.equal(read.text, "sites: []\n");
    assert.match(read.resourceVersion, /^\d+$/);
  });
});

Deno.test("readConfigMap() picks config.yml, then config.yaml, then a lone key", async () => {
  await withApi(async (api) => {
    const pick = async (data: Record<string, string>) => {
      api.set(NS, "s3sync", data);
      return (await readConfigMap(api.access(), REF)).text;
    };
    assert.equal(await pick({ "config.yaml": "b", "config.yml": "a", z: "c" }), "a");
    assert.equal(await pick({ "config.yaml": "b", z: "c" }), "b");
    assert.equal(await pick({ "settings.yml": "c" }), "c");
    await assert.rejects(pick({ "a.yml": "1", "b.yml": "2" }), {
      message: 'ConfigMap "sync/s3sync" has keys "a.yml", "b.yml" in "data"; ' +
        'expected "config.yml", "config.yaml" or a single key',
    });
    await assert.rejects(pick({}), { message: /has no keys in "data"/ });
  });
});

Deno.test("readConfigMap() names the ConfigMap when it does not exist", async () => {
  await withApi(async (api) => {
    await assert.rejects(readConfigMap(api.access(), { namespace: NS, name: "nope" }), {
      message: 'Cannot read ConfigMap "sync/nope": HTTP 404 Not Found: configmaps "nope" not found',
    });
  });
});

Deno.test("readConfigMap() reports a rejected token without the token", async () => {
  await withApi(async (api) => {
    api.set(NS, "s3sync", { "config.yml": "a" });
    const wrong = "wrong-token-that-must-not-leak";
    const err = await readConfigMap(api.access(wrong), REF).catch((e: Error) => e);
    assert.ok(err instanceof Error);
    assert.match(err.message, /^Cannot read ConfigMap "sync\/s3sync": HTTP 401 Unauthorized/);
    assert.ok(!err.message.includes(wrong));
    api.forbidden = true;
    const denied = await readConfigMap(api.access(), REF).catch((e: Error) => e);
    assert.ok(denied instanceof Error);
    assert.match(
      denied.message,
      /HTTP 403 Forbidden: .*\(the service account needs "get" and "watch"/,
    );
    assert.ok(!denied.message.includes(api.token));
  });
});

Deno.test("watchConfigMap() reports a MODIFIED config text", async () => {
  await withApi(async (api) => {
    api.set(NS, "s3sync", { "config.yml": "v1" });
    api.set(NS, "other", { "config.yml": "not ours" });
    await withWatch(api, async (changes) => {
      api.set(NS, "other", { "config.yml": "still not ours" });
      api.set(NS, "s3sync", { "config.yml": "v2" });
      await changes.count(1);
      assert.deepEqual(changes.seen, ["v2"]);
    });
  });
});

Deno.test("watchConfigMap() ignores bookmarks and changes to other keys", async () => {
  await withApi(async (api) => {
    api.set(NS, "s3sync", { "config.yml": "v1" });
    await withWatch(api, async (changes) => {
      api.bookmark();
      api.set(NS, "s3sync", { "config.yml": "v1", "notes.txt": "edited" });
      api.set(NS, "s3sync", { "config.yml": "v2", "notes.txt": "edited" });
      await changes.count(1);
      assert.deepEqual(changes.seen, ["v2"]);
    });
  });
});

Deno.test("watchConfigMap() resumes from the last bookmark when the stream ends", async () => {
  await withApi(async (api) => {
    api.set(NS, "s3sync", { "config.yml": "v1" });
    await withWatch(api, async (changes) => {
      const bookmark = api.bookmark();
      api.closeWatches();
      await within(api.watchesOpened(2), "a second watch");
      const watches = api.requests.filter((r) => r.includes("watch=true"));
      assert.match(watches[1] ?? "", new RegExp(`&resourceVersion=${bookmark}&`));
      api.set(NS, "s3sync", { "config.yml": "v2" });
      await changes.count(1);
      assert.deepEqual(changes.seen, ["v2"]);
    });
  });
});

Deno.test("watchConfigMap() reads the map again after ERROR 410 and keeps watching", async () => {
  await withApi(async (api) => {
    api.set(NS, "s3sync", { "config.yml": "v1" });
    await withWatch(api, async (changes) => {
      // A change whose event was compacted away: only a fresh read can see it.
      api.set(NS, "s3sync", { "config.yml": "v2" }, { silent: true });
      api.expire();
      await changes.count(1);
      const reads = api.requests.filter((r) =>
        r.startsWith("GET /api/v1/namespaces/sync/configmaps/")
      );
      assert.equal(reads.length, 2);
      await within(api.watchesOpened(2), "a watch after the re-read");
      api.set(NS, "s3sync", { "config.yml": "v3" });
      await changes.count(2);
      assert.deepEqual(changes.seen, ["v2", "v3"]);
    });
  });
});

Deno.test("watchConfigMap() keeps the config when the map is deleted and recreated", async () => {
  await withApi(async (api) => {
    api.set(NS, "s3sync", { "config.yml": "v1" });
    await withWatch(api, async (changes) => {
      api.delete(NS, "s3sync");
      api.set(NS, "s3sync", { "config.yml": "v1" });
      api.set(NS, "s3sync", { "config.yml": "v2" });
      await changes.count(1);
      assert.deepEqual(changes.seen, ["v2"]);
    });
  });
});

Deno.test("watchConfigMap() starts from options.from without reading", async () => {
  await withApi(async (api) => {
    api.set(NS, "s3sync", { "config.yml": "v1" });
    const from = await readConfigMap(api.access(), REF);
    api.set(NS, "s3sync", { "config.yml": "v2" });
    const changes = new Changes();
    const controller = new AbortController();
    const done = watchConfigMap(api.access(), REF, changes.add, controller.signal, { from });
    await changes.count(1);
    controller.abort();
    await within(done, "the watch to stop");
    assert.deepEqual(changes.seen, ["v2"]);
    assert.equal(api.requests.filter((r) => !r.includes("watch=true")).length, 1);
  });
});

Deno.test("watchConfigMap() stops promptly on abort, also while backing off", async () => {
  await withApi(async (api) => {
    const controller = new AbortController();
    // The map is missing, so the watch keeps failing and waits a long backoff between tries.
    const done = watchConfigMap(api.access(), REF, () => {}, controller.signal, {
      minBackoffMs: 60_000,
    });
    await within(api.until(() => api.requests.length > 0), "the first request");
    controller.abort();
    await within(done, "the watch to stop");
  });
});
