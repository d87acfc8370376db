/**
 * What each signal means, per system. SIGINT and SIGTERM stop everywhere. SIGHUP reloads on POSIX
 * systems, as it did for the Go tool; on Windows Deno raises it when the console window closes,
 * which is no request to reload: there it stops (Windows ends the process soon after anyway), and
 * reloads go through `/reload` and config-file changes. Ctrl-Break (SIGBREAK) stops on Windows.
 * @module
 */

export interface SignalRoles {
  readonly stop: readonly Deno.Signal[];
  readonly reload: readonly Deno.Signal[];
}

export function signalRoles(os: string = Deno.build.os): SignalRoles {
  if (os === "windows") return { stop: ["SIGINT", "SIGTERM", "SIGBREAK", "SIGHUP"], reload: [] };
  return { stop: ["SIGINT", "SIGTERM"], reload: ["SIGHUP"] };
}

/** Calls `onStop` with the signal's name for each stop signal of this system. */
export function onStopSignals(onStop: (signal: Deno.Signal) => void): void {
  for (const signal of signalRoles().stop) listen(signal, () => onStop(signal));
}

/**
 * Listens for `signal` where the system lets us. Deno added Windows listeners for SIGTERM and
 * SIGHUP in 2.7; a runtime that refuses one must not stop the daemon from starting.
 */
export function listen(signal: Deno.Signal, handler: () => void): void {
  try {
    Deno.addSignalListener(signal, handler);
  } catch {
    // Not a signal this system delivers: nothing will come.
  }
}
