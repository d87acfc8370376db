import assert from "node:assert/strict";
import { LOCK_FILE, lockStateDir, StateDirBusyError } from "./lock.ts";

Deno.test("lockStateDir() creates the folder and writes the holder's pid", async () => {
  const dir = `${await Deno.makeTempDir()}/nested/state`;
  const lock = await lockStateDir(dir);
  assert.ok(lock);
  try {
    assert.equal(lock.path, `${dir}/${LOCK_FILE}`);
    assert.equal(await Deno.readTextFile(lock.path), `${Deno.pid}\n`);
  } finally {
    lock.release();
  }
});

Deno.test("lockStateDir() refuses a second holder, naming the folder and the first one's pid", async () => {
  const dir = await Deno.makeTempDir();
  const first = await lockStateDir(dir);
  assert.ok(first);
  try {
    // The lock belongs to an open file, not to the process: a second open conflicts even here.
    await assert.rejects(() => lockStateDir(dir), (err: unknown) => {
      assert.ok(err instanceof StateDirBusyError);
      assert.equal(err.dir, dir);
      assert.equal(err.holder, Deno.pid);
      assert.ok(err.message.includes(`State folder "${dir}" is in use`), err.message);
      assert.ok(err.message.includes(`(pid ${Deno.pid})`), err.message);
      return true;
    });
    // The refused attempt leaves the holder's pid in place.
    assert.equal(await Deno.readTextFile(first.path), `${Deno.pid}\n`);
  } finally {
    first.release();
  }
  const second = await lockStateDir(dir);
  assert.ok(second, "free again once released");
  second.release();
});

Deno.test("lockStateDir() replaces a stale pid left by an ended holder", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/${LOCK_FILE}`, "999999999\nleftover text");
  const lock = await lockStateDir(dir);
  assert.ok(lock);
  assert.equal(await Deno.readTextFile(lock.path), `${Deno.pid}\n`);
  lock.release();
});

Deno.test("lockStateDir() gives no lock, and no error, where the folder cannot be created", async () => {
  const file = await Deno.makeTempFile();
  // Below a regular file: mkdir fails the way a read-only or missing mount would.
  assert.equal(await lockStateDir(`${file}/state`), undefined);
});
