import assert from "node:assert/strict";
import { LOCK_FILE, lockStateDir, StateDirBusyError } from "./lock.ts";

Deno.test("lockStateDir() creates the folder and writes the holder's pid", async () => {
  const dir = `${await Deno.makeTempDir()}/nested/state`;
  const lock = await lockStateDir(dir);
  assert.ok(lock);
  assert.equal(lock.path, `${dir}/${LOCK_FILE}`);
  lock.release();
  // Read once released: Windows keeps a locked file from being read, even by its holder.
  assert.equal(await Deno.readTextFile(lock.path), `${Deno.pid}\n`);
});

/** What a second `lockStateDir()` of a fresh folder throws while a first holder has it. */
async function refusal(): Promise<{ dir: string; err: StateDirBusyError; pidLeft: string }> {
  const dir = await Deno.makeTempDir();
  const first = await lockStateDir(dir);
  assert.ok(first);
  let err: unknown;
  try {
    // The lock belongs to an open file, not to the process: a second open conflicts even here.
    err = await lockStateDir(dir).then(() => undefined, (e) => e);
  } finally {
    first.release();
  }
  assert.ok(err instanceof StateDirBusyError, String(err));
  // Read before anyone locks again, and once released: Windows keeps a locked file unread.
  const pidLeft = await Deno.readTextFile(first.path);
  const second = await lockStateDir(dir);
  assert.ok(second, "free again once released");
  second.release();
  return { dir, err, pidLeft };
}

Deno.test("lockStateDir() refuses a second holder, naming the folder", async () => {
  const { dir, err } = await refusal();
  assert.equal(err.dir, dir);
  assert.ok(err.message.includes(`State folder "${dir}" is in use`), err.message);
});

Deno.test({
  name: "lockStateDir() names the first holder's pid, and a refused attempt keeps it",
  // Windows keeps a locked file from being read, so the pid is not known there (see readHolder).
  ignore: Deno.build.os === "windows",
  async fn() {
    const { err, pidLeft } = await refusal();
    assert.equal(err.holder, Deno.pid);
    assert.ok(err.message.includes(`(pid ${Deno.pid})`), err.message);
    assert.equal(pidLeft, `${Deno.pid}\n`);
  },
});

Deno.test("lockStateDir() replaces a stale pid left by an ended holder", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/${LOCK_FILE}`, "999999999\nleftover text");
  const lock = await lockStateDir(dir);
  assert.ok(lock);
  lock.release();
  assert.equal(await Deno.readTextFile(lock.path), `${Deno.pid}\n`);
});

Deno.test("lockStateDir() gives no lock, and no error, where the folder cannot be created", async () => {
  const file = await Deno.makeTempFile();
  // Below a regular file: mkdir fails the way a read-only or missing mount would.
  assert.equal(await lockStateDir(`${file}/state`), undefined);
});
