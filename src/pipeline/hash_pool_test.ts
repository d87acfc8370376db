import assert from "node:assert/strict";
import { HashPool } from "./hash_pool.ts";
import { hashFile } from "./hash.ts";
import { MiB } from "./etag.ts";

Deno.test("HashPool gives the same digests as hashFile(), on several threads at once", async () => {
  const dir = await Deno.makeTempDir();
  const paths = await Promise.all([1, 2, 3, 4].map(async (n) => {
    const path = `${dir}/f${n}`;
    await Deno.writeFile(path, new Uint8Array(n * MiB + n).map((_, i) => (i * n) % 256));
    return path;
  }));
  const pool = new HashPool(2);
  try {
    const digests = await Promise.all(paths.map((path) => pool.hash(path, [MiB])));
    for (const [i, path] of paths.entries()) {
      assert.deepEqual(digests[i], await hashFile(path, [MiB]));
    }
  } finally {
    pool.close();
  }
});

Deno.test("HashPool passes on a missing file's error with its code", async () => {
  const pool = new HashPool(1);
  try {
    await assert.rejects(pool.hash("/nonexistent/s3sync/file", []), (err: { code?: string }) => {
      assert.equal(err.code, "ENOENT");
      return true;
    });
  } finally {
    pool.close();
  }
});

Deno.test("HashPool hashes on the calling thread when its threads cannot start", async () => {
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, "content");
  const pool = new HashPool(2, new URL("./no_such_worker.ts", import.meta.url));
  try {
    assert.deepEqual(await pool.hash(path, []), await hashFile(path, []));
    assert.deepEqual(await pool.hash(path, []), await hashFile(path, []));
  } finally {
    pool.close();
  }
});

Deno.test("HashPool stops threads that have had nothing to do for a while", async () => {
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, "content");
  const pool = new HashPool(1, undefined, 50);
  try {
    await pool.hash(path, []);
    assert.equal(pool.threads, 1);
    const deadline = Date.now() + 5_000;
    while (pool.threads > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(pool.threads, 0);
    assert.deepEqual(await pool.hash(path, []), await hashFile(path, []));
  } finally {
    pool.close();
  }
});
