/**
 * `listParallel` against the real server: a bucket holding a tree of folders, one big flat folder
 * and keys that sort awkwardly or need URL encoding must list exactly as the sequential
 * ListObjectsV2 loop lists it, each key once, under every prefix and concurrency.
 */

import assert from "node:assert/strict";
import { DeleteBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { compareKeys } from "../src/lib/key_order.ts";
import { type Listable, listParallel } from "../src/store/list_parallel.ts";
import { createS3Store } from "../src/store/s3.ts";
import { S3Error } from "../src/store/s3_error.ts";
import { xmlCanCarry } from "../src/store/s3_http.ts";
import type { ObjectStore, RemoteObject } from "../src/store/types.ts";
import { newBucket, siteConfig, testS3 } from "./helpers.ts";

const AWKWARD = [
  "a.txt",
  "a/x",
  "a0",
  "dir",
  "dir/",
  "dir/x",
  "dir/x/",
  "dir.d/y",
  "ü/é.txt",
  "中/文",
  "😀",
  "😀/x",
  "\uFFFF",
  "\uE000z",
  "\r",
  "Icon\r",
  "ctl\u0001x",
  "tab\there",
  "sp ace+plus%25",
  "flat/",
];

/** 3,000 keys in 20 x 10 folders, 2,500 numbered keys in one folder, and the awkward ones. */
function bucketKeys(): string[] {
  const keys = [...AWKWARD];
  for (let f = 0; f < 20; f++) {
    for (let s = 0; s < 10; s++) {
      for (let n = 0; n < 15; n++) keys.push(`t/d${f}/s${s}/file${n}.txt`);
    }
  }
  for (let i = 0; i < 2_500; i++) keys.push(`flat/f${String(i).padStart(6, "0")}`);
  return keys;
}

async function fill(bucket: string, keys: string[]): Promise<void> {
  const client = testS3().client;
  const body = new Uint8Array(0);
  for (let i = 0; i < keys.length; i += 64) {
    await Promise.all(
      keys.slice(i, i + 64).map((key) =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
      ),
    );
  }
}

async function empty(store: ObjectStore, keys: string[]): Promise<void> {
  const batchable = keys.filter(xmlCanCarry);
  for (let i = 0; i < batchable.length; i += 1_000) {
    assert.deepEqual([...await store.deleteMany(batchable.slice(i, i + 1_000))], []);
  }
  for (const key of keys.filter((key) => !xmlCanCarry(key))) await store.deleteOne(key);
  await testS3().client.send(new DeleteBucketCommand({ Bucket: store.bucket }));
}

async function collect(pages: AsyncIterable<RemoteObject[]>): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of pages) keys.push(...page.map((object) => object.key));
  return keys;
}

/** The store with pages of `maxKeys`, to make many pages and cuts out of a few thousand keys. */
function smallPages(store: ObjectStore, maxKeys: number): Listable {
  return {
    bucket: store.bucket,
    list: (prefix, signal) => store.list(prefix, signal),
    listPage: (prefix, options, signal) => store.listPage(prefix, { ...options, maxKeys }, signal),
  };
}

Deno.test("listParallel() lists a real bucket exactly as the sequential list does", async () => {
  const bucket = await newBucket("listing");
  const store = createS3Store(siteConfig({ localPath: "/unused", bucket }), 16);
  const keys = bucketKeys();
  await fill(bucket, keys);
  try {
    const small = smallPages(store, 37);
    const sequential = await collect(store.list(""));
    assert.deepEqual(sequential, [...keys].sort(compareKeys), "the sequential list");
    for (const prefix of ["", "t/", "t/d1", "flat/", "dir", "dir/", "a", "😀", "\r", "zzz"]) {
      const expected = (await collect(store.list(prefix))).sort(compareKeys);
      const runs = [[store, 1], [store, 4], [store, 8], [small, 3], [small, 8]] as const;
      for (const [listable, concurrency] of runs) {
        const pages = listable === store ? 1_000 : 37;
        const what = `prefix ${JSON.stringify(prefix)}, pages of ${pages}, ${concurrency}`;
        const listed = await collect(listParallel(listable, prefix, { concurrency }));
        assert.equal(new Set(listed).size, listed.length, `${what}: a key came twice`);
        assert.deepEqual(listed.sort(compareKeys), expected, what);
      }
    }
  } finally {
    await empty(store, keys);
  }
});

Deno.test("listParallel() fails with the S3Error of a failed request, and stops on abort", async () => {
  const missing = createS3Store(siteConfig({ localPath: "/unused", bucket: "no-such-bucket" }), 8);
  await assert.rejects(collect(listParallel(missing, "", { concurrency: 8 })), S3Error);

  const bucket = await newBucket("listing-abort");
  const store = createS3Store(siteConfig({ localPath: "/unused", bucket }), 8);
  const keys = bucketKeys().slice(0, 500);
  await fill(bucket, keys);
  try {
    const controller = new AbortController();
    const reason = new Error("Stopping");
    const listing = async () => {
      for await (const _ of listParallel(smallPages(store, 50), "", {}, controller.signal)) {
        controller.abort(reason);
      }
    };
    await assert.rejects(listing(), (err) => err === reason);
  } finally {
    await empty(store, keys);
  }
});
