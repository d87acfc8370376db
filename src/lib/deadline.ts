/**
 * Bounds a wait that should succeed: the deadline only ends a wait that is failing anyway, it is
 * never how anything synchronises.
 * @module
 */

export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A signal that aborts after `ms`, and the way to drop it once the work is done. The signal of
 * AbortSignal.timeout lives (with every signal combined with it) until it fires: a two-minute
 * timeout on each PUT held 82,000 signals, 50 MB of heap, after a sync of 100,000 small files.
 */
export function timeoutSignal(ms: number): { readonly signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`Timed out after ${ms} ms`, "TimeoutError")),
    ms,
  );
  Deno.unrefTimer(timer);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** Runs `run` with a signal that aborts after `ms`, dropped as soon as `run` ends. */
export async function withTimeout<T>(
  ms: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeout = timeoutSignal(ms);
  try {
    return await run(timeout.signal);
  } finally {
    timeout.clear();
  }
}
