/**
 * Child processes for the benchmark: a command run to completion under a deadline (wall time
 * measured around it), a long-running daemon whose log is scanned for markers, and the memory
 * figures Linux keeps in /proc/<pid>/status.
 * @module
 */

export interface Timed {
  readonly code: number;
  readonly seconds: number;
  /** The last few KiB of stdout+stderr, for error messages. */
  readonly tail: string;
  readonly timedOut: boolean;
  /** Highest VmHWM (KiB) seen while the process ran, when asked to watch it. */
  readonly peakKiB?: number;
  /** User + system CPU seconds, as last read from /proc (up to 50 ms before the exit). */
  readonly cpuSeconds?: number;
}

const TAIL_BYTES = 4096;

function keepTail(tail: string, chunk: string): string {
  const joined = tail + chunk;
  return joined.length > TAIL_BYTES ? joined.slice(-TAIL_BYTES) : joined;
}

async function drain(stream: ReadableStream<Uint8Array>, onText: (text: string) => void) {
  const decoder = new TextDecoder();
  for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
}

export interface RunOptions {
  readonly env?: Record<string, string>;
  /** Variables to remove from the inherited environment. */
  readonly unsetEnv?: readonly string[];
  readonly cwd?: string;
  readonly timeoutMs: number;
  /** Poll VmHWM and CPU time of the child every 50 ms (the child must be the measured process). */
  readonly watchMemory?: boolean;
}

function childEnv(opts: { env?: Record<string, string>; unsetEnv?: readonly string[] }) {
  const env = { ...Deno.env.toObject(), ...opts.env };
  for (const name of opts.unsetEnv ?? []) delete env[name];
  return env;
}

/** Runs `cmd` to completion and measures its wall time; killed (SIGKILL) after `timeoutMs`. */
export async function runTimed(cmd: readonly string[], opts: RunOptions): Promise<Timed> {
  const started = performance.now();
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    env: childEnv(opts),
    clearEnv: true,
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let tail = "";
  const reading = Promise.all([
    drain(child.stdout, (t) => tail = keepTail(tail, t)),
    drain(child.stderr, (t) => tail = keepTail(tail, t)),
  ]);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, opts.timeoutMs);
  let peakKiB: number | undefined;
  let cpuSeconds: number | undefined;
  const poller = opts.watchMemory
    ? setInterval(() => {
      const hwm = procStatusKiB(child.pid, "VmHWM");
      if (hwm !== undefined) peakKiB = Math.max(peakKiB ?? 0, hwm);
      cpuSeconds = procCpuSeconds(child.pid) ?? cpuSeconds;
    }, 50)
    : undefined;
  const status = await child.status;
  const seconds = (performance.now() - started) / 1000;
  clearTimeout(timer);
  if (poller !== undefined) clearInterval(poller);
  await reading;
  return { code: status.code, seconds, tail, timedOut, peakKiB, cpuSeconds };
}

/** A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"), or undefined once the process is gone. */
export function procStatusKiB(pid: number, field: string): number | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = text.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of /proc/<pid>/stat in seconds (USER_HZ is 100 on Linux). */
export function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** A background process (the watching daemon) whose output is scanned for marker lines. */
export class Background {
  readonly #child: Deno.ChildProcess;
  readonly #reading: Promise<unknown>;
  readonly pid: number;
  tail = "";
  /** Every line that matched one of the watched patterns, with the time it was read. */
  readonly seen: { line: string; at: number }[] = [];
  #partial = "";

  constructor(cmd: readonly string[], readonly watch: RegExp, env: Record<string, string> = {}) {
    this.#child = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      env: childEnv({ env }),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    const onText = (text: string) => {
      this.tail = keepTail(this.tail, text);
      const lines = (this.#partial + text).split("\n");
      this.#partial = lines.pop() ?? "";
      for (const line of lines) {
        if (this.watch.test(line)) this.seen.push({ line, at: performance.now() });
      }
    };
    this.#reading = Promise.all([
      drain(this.#child.stdout, onText),
      drain(this.#child.stderr, onText),
    ]);
    this.#child.status.then(() => this.#exited = true);
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    await waitUntil(
      `the daemon to log ${pattern}`,
      () => this.seen.some((s) => pattern.test(s.line)),
      timeoutMs,
      20,
      () => this.#exitedEarly(),
    );
  }

  #exited = false;
  /** Whether the process has ended (on its own, or after `stop`). */
  get exited(): boolean {
    return this.#exited;
  }

  #exitedEarly(): string | undefined {
    return this.#exited ? `the daemon exited early; its last output:\n${this.tail}` : undefined;
  }

  async stop(): Promise<number> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, 40_000);
    const status = await this.#child.status;
    clearTimeout(timer);
    await this.#reading;
    return status.code;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it holds; throws after `timeoutMs` or when `abort` says why. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
  abort?: () => string | undefined,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    const why = abort?.();
    if (why) throw new Error(`Gave up waiting for ${what}: ${why}`);
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(everyMs);
  }
}
