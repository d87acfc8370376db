import assert from "node:assert/strict";
import { alphabet, below, keyBetween, ladder, splitPoints } from "./key_cuts.ts";
import { type Listable, listParallel, listSequential } from "./list_parallel.ts";
import type { ListedPage, ListPageOptions, RemoteObject } from "./types.ts";

const utf8 = new TextEncoder();

/** S3's order, computed from the bytes: an oracle apart from the code under test. */
function byteOrder(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface FakeOptions {
  readonly bucket?: string;
  /** The server's page size: small ones make many pages, and cuts, out of few keys. */
  readonly pageSize?: number;
  /** RGW stops a Delimiter page early, after some hundreds of prefixes. */
  readonly prefixesPerPage?: number;
  /** Lists in UTF-16 order, as a broken server would. */
  readonly utf16Order?: boolean;
  readonly failOn?: (request: number) => boolean;
  readonly seed?: number;
}

/**
 * ListObjectsV2 over a sorted key set: Prefix, StartAfter, Delimiter (a prefix is an entry where
 * its first key falls, even when StartAfter is inside it, as AWS does), MaxKeys counting objects
 * and prefixes, IsTruncated only when more entries follow, and an opaque continuation token that
 * skips a whole prefix when a page ended on one.
 */
class FakeStore implements Listable {
  readonly bucket: string;
  readonly keys: string[];
  readonly options: FakeOptions;
  readonly #random: () => number;
  flat = 0;
  delimited = 0;
  listCalls = 0;
  inFlight = 0;
  maxInFlight = 0;

  constructor(keys: Iterable<string>, options: FakeOptions = {}) {
    this.bucket = options.bucket ?? "fake";
    this.options = options;
    this.keys = [...new Set(keys)].sort(options.utf16Order ? undefined : byteOrder);
    this.#random = random(options.seed ?? 1);
  }

  get requests(): number {
    return this.flat + this.delimited;
  }

  async listPage(prefix: string, options: ListPageOptions, signal?: AbortSignal) {
    signal?.throwIfAborted();
    if (options.delimiter) this.delimited++;
    else this.flat++;
    const request = this.requests;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, this.#random() < 0.5 ? 0 : 1);
        signal?.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(signal.reason);
        }, { once: true });
      });
      if (this.options.failOn?.(request)) throw new Error(`Injected failure ${request}`);
      return this.#page(prefix, options);
    } finally {
      this.inFlight--;
    }
  }

  #page(prefix: string, { delimiter, startAfter, continuationToken, maxKeys }: ListPageOptions) {
    const resume = continuationToken ? JSON.parse(continuationToken.slice(6)) : {};
    const marker: string = resume.marker ?? startAfter ?? "";
    const limit = Math.min(maxKeys ?? 1000, this.options.pageSize ?? 1000);
    const page = { objects: [] as RemoteObject[], prefixes: [] as string[], next: undefined };
    let last = { entry: "", block: false };
    const start = Math.max(this.#firstAfter(prefix, 0), this.#firstAfter(marker, 1));
    for (let i = start; i < this.keys.length && this.keys[i]!.startsWith(prefix); i++) {
      const key = this.keys[i]!;
      if (resume.block && key.startsWith(resume.marker)) continue;
      const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      const block = at < 0 ? undefined : key.slice(0, at + delimiter!.length);
      if (block !== undefined && block === page.prefixes.at(-1)) continue;
      const full = page.objects.length + page.prefixes.length >= limit ||
        page.prefixes.length >= (this.options.prefixesPerPage ?? Infinity);
      if (full) {
        const token = JSON.stringify({ marker: last.entry, block: last.block });
        return { ...page, next: `token:${token}` } as ListedPage;
      }
      if (block !== undefined) page.prefixes.push(block);
      else page.objects.push({ key, size: key.length, etag: "e", storageClass: "STANDARD" });
      last = { entry: block ?? key, block: block !== undefined };
    }
    return page as ListedPage;
  }

  /** The index of the first key at or after `key` (`strictly` 0), or after it (1). */
  #firstAfter(key: string, strictly: 0 | 1): number {
    let [low, high] = [0, this.keys.length];
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (byteOrder(this.keys[middle]!, key) < strictly) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  list(prefix: string, signal?: AbortSignal): AsyncGenerator<RemoteObject[]> {
    this.listCalls++;
    return listSequential(this, prefix, signal);
  }
}

async function collect(pages: AsyncIterable<RemoteObject[]>): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of pages) keys.push(...page.map((object) => object.key));
  return keys;
}

/** Asserts every key under `prefix` came once, and nothing else came. */
function assertExactlyOnce(listed: string[], store: FakeStore, prefix: string, what: string) {
  const expected = store.keys.filter((key) => key.startsWith(prefix));
  assert.equal(new Set(listed).size, listed.length, `${what}: a key came twice`);
  assert.deepEqual([...listed].sort(byteOrder), expected, what);
}

const AWKWARD = [
  "a",
  "a.txt",
  "a0",
  "dir",
  "/",
  "/",
  "/",
  ".",
  "-",
  "0",
  "9",
  "z",
  "é",
  "中",
  "\uD7FF",
  "\uE000",
  "\uFFFF",
  "😀",
  "\u{10FFFF}",
  "\r",
  "\u0001",
  " ",
  "+",
  "%",
];

function awkwardKey(next: () => number): string {
  const length = 1 + Math.floor(next() * 6);
  return Array.from({ length }, () => AWKWARD[Math.floor(next() * AWKWARD.length)]).join("");
}

Deno.test("listParallel() lists random awkward keys exactly once, whatever the pages and concurrency", async () => {
  for (let seed = 1; seed <= 150; seed++) {
    const next = random(seed);
    const keys = Array.from({ length: Math.floor(next() * 400) }, () => awkwardKey(next));
    for (let i = 0; i < next() * 300; i++) keys.push(`f${i % 7}/g${i % 3}/${awkwardKey(next)}`);
    const store = new FakeStore(keys, {
      seed,
      pageSize: 1 + Math.floor(next() * 12),
      prefixesPerPage: next() < 0.5 ? 3 : undefined,
    });
    const prefix = next() < 0.6 ? "" : [...awkwardKey(next)].slice(0, 2).join("");
    const concurrency = 1 + Math.floor(next() * 8);
    const listed = await collect(listParallel(store, prefix, { concurrency }));
    assertExactlyOnce(listed, store, prefix, `seed ${seed}, prefix ${JSON.stringify(prefix)}`);
    assert.ok(store.maxInFlight <= concurrency, `seed ${seed}: ${store.maxInFlight} in flight`);
  }
});

Deno.test("listParallel() lists a key equal to the prefix, and dir beside dir/ and dir/x, once each", async () => {
  const keys = [
    "a.txt",
    "a/x",
    "a0",
    "dir",
    "dir/",
    "dir/x",
    "dir/x/",
    "dir/x/y",
    "dir0",
    "dir.d/z",
  ];
  for (const prefix of ["", "a", "dir", "dir/", "dir/x", "dir/x/", "zzz"]) {
    for (const concurrency of [1, 2, 8]) {
      const store = new FakeStore(keys, { pageSize: 1 });
      const listed = await collect(listParallel(store, prefix, { concurrency }));
      assertExactlyOnce(listed, store, prefix, `prefix "${prefix}", concurrency ${concurrency}`);
    }
  }
});

/** `folders` x `subfolders` x `files` keys, as a synced tree holds them. */
function tree(folders: number, subfolders: number, files: number): string[] {
  const keys = [];
  for (let f = 0; f < folders; f++) {
    for (let s = 0; s < subfolders; s++) {
      for (let n = 0; n < files; n++) keys.push(`site/d${f}/s${s}/file${n}.txt`);
    }
  }
  return keys;
}

Deno.test("listParallel() costs one request for a prefix that fits in one page", async () => {
  const store = new FakeStore(tree(5, 10, 10));
  assert.equal((await collect(listParallel(store, "site/"))).length, 500);
  assert.deepEqual([store.flat, store.delimited], [1, 0]);
});

Deno.test("listParallel() cuts a tree of folders at folder starts, in about as many requests as a flat listing", async () => {
  // 20,000 keys: 20 requests listed flat; 421 walking every folder with Delimiter "/".
  const store = new FakeStore(tree(20, 10, 100));
  const listed = await collect(listParallel(store, "site/", { concurrency: 8 }));
  assertExactlyOnce(listed, store, "site/", "tree");
  assert.equal(store.maxInFlight, 8);
  // One lookup for the folder starts; a partial last page for each of about eight parts.
  assert.ok(store.delimited <= 2, `${store.delimited} Delimiter requests`);
  assert.ok(store.requests <= 20 + 8 + 2, `${store.requests} requests`);
});

Deno.test("listParallel() cuts one flat folder of 100,000 keys into key ranges", async () => {
  const next = random(3);
  const hex = () => Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16)).join("");
  const shapes = {
    // Part ends fall on page ends here (f0010000 starts a page), so each part costs one more.
    numbered: { name: (i: number) => `f${String(i).padStart(7, "0")}`, most: 135 },
    hashed: { name: () => `${hex()}.jpg`, most: 115 },
  };
  for (const [shape, { name, most }] of Object.entries(shapes)) {
    const store = new FakeStore(Array.from({ length: 100_000 }, (_, i) => `big/${name(i)}`));
    const listed = await collect(listParallel(store, "big/", { concurrency: 8 }));
    assertExactlyOnce(listed, store, "big/", shape);
    assert.equal(store.maxInFlight, 8, shape);
    assert.ok(store.requests <= most, `${shape}: ${store.requests} requests, not 100 or so`);
  }
});

Deno.test("listParallel() fails with the failed request's error and leaves no request in flight", async () => {
  const store = new FakeStore(tree(20, 10, 100), { failOn: (request) => request === 6 });
  await assert.rejects(collect(listParallel(store, "", { concurrency: 8 })), /Injected failure/);
  assert.equal(store.inFlight, 0);
});

Deno.test("listParallel() stops every request when its signal aborts", async () => {
  const store = new FakeStore(tree(20, 10, 100));
  const controller = new AbortController();
  const reason = new Error("Stopping");
  const listing = async () => {
    for await (const _ of listParallel(store, "", { concurrency: 8 }, controller.signal)) {
      if (store.requests > 5) controller.abort(reason);
    }
  };
  await assert.rejects(listing(), (err) => err === reason);
  assert.equal(store.inFlight, 0);
});

Deno.test("listParallel() stops every request when the consumer leaves the loop", async () => {
  const store = new FakeStore(tree(20, 10, 100));
  for await (const _ of listParallel(store, "", { concurrency: 8 })) {
    if (store.requests > 5) break;
  }
  assert.equal(store.inFlight, 0);
});

Deno.test("listParallel() lists a directory bucket (--x-s3) with the sequential listing", async () => {
  const store = new FakeStore(tree(3, 10, 100), { bucket: "b--use1-az4--x-s3" });
  const listed = await collect(listParallel(store, "", { concurrency: 8 }));
  assertExactlyOnce(listed, store, "", "directory bucket");
  assert.deepEqual([store.listCalls, store.maxInFlight, store.delimited], [1, 1, 0]);
});

Deno.test("listParallel() stops with an error when the server lists out of order", async () => {
  const keys = ["k\uFFFF", "k😀", ...Array.from({ length: 50 }, (_, i) => `k${i}`)];
  const store = new FakeStore(keys, { utf16Order: true, pageSize: 5 });
  await assert.rejects(collect(listParallel(store, "", { concurrency: 1 })), /out of order/);
});

Deno.test("keyBetween(), splitPoints(), ladder() and below() keep to S3's order for awkward keys", () => {
  const next = random(7);
  const inOrder = (keys: string[]) =>
    keys.every((key, i) => i === 0 || byteOrder(keys[i - 1]!, key) < 0);
  for (let n = 0; n < 20_000; n++) {
    const common = next() < 0.5 ? "" : awkwardKey(next);
    const [a, b] = [common + awkwardKey(next), common + awkwardKey(next)].sort(byteOrder) as [
      string,
      string,
    ];
    const what = JSON.stringify([common, a, b]);
    const chars = next() < 0.3 ? [] : alphabet([a, common + awkwardKey(next), b]);
    const open = splitPoints(a, undefined, common, 4, chars);
    assert.ok(inOrder([a, ...open]) && open.every((key) => key.startsWith(common)), what);
    const rungs = ladder(a, b, common);
    assert.ok(inOrder([b, ...rungs]) && rungs.every((key) => key.startsWith(common)), what);
    assert.ok(byteOrder(below(b), b) < 0 && below(b).isWellFormed(), what);
    if (a === b) continue;
    const middle = keyBetween(a, b, common, chars);
    assert.ok(middle === undefined || inOrder([a, middle, b]), what);
    const points = splitPoints(a, b, common, 4, chars);
    assert.ok(inOrder([a, ...points, b]), what);
    assert.ok(points.every((key) => key.startsWith(common) && key.isWellFormed()), what);
  }
});
