/**
 * One writer per state folder: an OS file lock on `state_dir/lock`, taken at start by a process
 * that writes (the daemon, `--once`) and held until it ends. The OS drops the lock when the process
 * ends, however it ends (`kill -9` included), so a crash never leaves a stale lock behind, unlike a
 * pid file. The holder's pid is written into the file for the refusal message; it is only a hint.
 *
 * A state folder that cannot be created or locked is not a reason to refuse to start: the state
 * store cannot be opened there either and is switched off, so there is nothing to race on.
 * @module
 */

import { errorMessage } from "../lib/errors.ts";
import { log } from "../lib/log.ts";

export const LOCK_FILE = "lock";

/** Another process holds the state folder: main prints the message and exits 1. */
export class StateDirBusyError extends Error {
  constructor(readonly dir: string, readonly holder: number | undefined) {
    const who = holder === undefined ? "another process" : `another process (pid ${holder})`;
    super(
      `State folder "${dir}" is in use by ${who}: two writers on one state folder would race. ` +
        `Stop that one first, or give this config its own state_dir`,
    );
    this.name = "StateDirBusyError";
  }
}

export interface StateLock {
  readonly path: string;
  /** Gives the lock back (the process ending does the same). */
  release(): void;
}

/**
 * Locks `dir` for this process. Throws `StateDirBusyError` when another process holds it; returns
 * undefined, with a warning, when the folder cannot be locked at all.
 */
export async function lockStateDir(dir: string): Promise<StateLock | undefined> {
  const path = `${dir}/${LOCK_FILE}`;
  let file: Deno.FsFile;
  try {
    await Deno.mkdir(dir, { recursive: true });
    // Not truncated on open: the holder's pid must survive a refused attempt.
    file = await Deno.open(path, { read: true, write: true, create: true });
  } catch (err) {
    warnUnlocked(path, err);
    return undefined;
  }
  try {
    // Exclusive, and never waiting: a second writer is refused at once, not queued behind the
    // first one for as long as the daemon runs.
    if (!await file.tryLock(true)) {
      file.close();
      throw new StateDirBusyError(dir, await readHolder(path));
    }
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (err) {
    if (err instanceof StateDirBusyError) throw err;
    // A file system without locks (some network mounts) or a lock file we may not write.
    file.close();
    warnUnlocked(path, err);
    return undefined;
  }
  log.debug("state folder locked", { path });
  return {
    path,
    release: () => {
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}

function warnUnlocked(path: string, err: unknown): void {
  log.warn("cannot lock the state folder; running without the lock", {
    path,
    error: errorMessage(err),
  });
}

/** The pid the holder wrote, when it could be read (it may not have written it yet). */
async function readHolder(path: string): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(path);
    const match = /^\d+/.exec(text.trim());
    return match ? Number(match[0]) : undefined;
  } catch {
    return undefined; // Windows locks keep the file from being read: the message goes without it
  }
}
