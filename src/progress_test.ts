import assert from "node:assert/strict";
import type { Fields } from "./lib/log.ts";
import {
  type Counters,
  formatBytes,
  formatElapsed,
  formatStatus,
  progressFields,
  ProgressReporter,
  RateMeter,
} from "./progress.ts";

const ONCE: Counters = {
  found: 5000,
  checked: 1200,
  uploaded: 30,
  bytes: 12 * 1024 ** 2,
  errors: 1,
};

Deno.test("formatBytes() scales by 1024 with one decimal, whole bytes below 1 KiB", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(5 * 1024 ** 3), "5.0 GiB");
});

Deno.test("formatElapsed() writes seconds, minutes and hours compactly", () => {
  assert.equal(formatElapsed(4_200), "4s");
  assert.equal(formatElapsed(65_000), "1m05s");
  assert.equal(formatElapsed(3_725_000), "1h02m05s");
});

Deno.test("formatStatus() says checked of found, uploaded, bytes and rate, errors, elapsed", () => {
  assert.equal(
    formatStatus(ONCE, 2.5 * 1024 ** 2, 65_000),
    "checked 1200 of 5000 files, uploaded 30, 12.0 MiB at 2.5 MiB/s, errors 1, 1m05s",
  );
});

Deno.test("formatStatus() says mismatches and hashed bytes for --verify", () => {
  const verify: Counters = { found: 10, checked: 8, mismatches: 2, bytes: 2048, errors: 0 };
  assert.equal(
    formatStatus(verify, 1024, 3_000),
    "checked 8 of 10 files, mismatches 2, hashed 2.0 KiB at 1.0 KiB/s, errors 0, 3s",
  );
});

Deno.test("progressFields() gives numbers only, the rate in bytes per second", () => {
  assert.deepEqual(progressFields(ONCE, 1000.4, 65_400), {
    checked: 1200,
    found: 5000,
    uploaded: 30,
    mismatches: undefined,
    bytes: 12 * 1024 ** 2,
    bytes_per_s: 1000,
    errors: 1,
    elapsed_s: 65,
  });
});

Deno.test("RateMeter.add() averages over the last window, not the whole run", () => {
  const meter = new RateMeter(5_000);
  assert.equal(meter.add(0, 0), 0);
  assert.equal(meter.add(1_000, 1_000), 1_000);
  // 1 kB/s for 10 s, then 10 kB/s for 5 s: the rate is the last 5 s'.
  for (let t = 2_000; t <= 10_000; t += 1_000) meter.add(t, t);
  let rate = 0;
  for (let t = 11_000; t <= 15_000; t += 1_000) rate = meter.add(t, 10_000 + (t - 10_000) * 10);
  assert.equal(rate, 10_000);
  // No time passed: no rate rather than a division by zero.
  assert.equal(new RateMeter().add(7, 100), 0);
});

/** A reporter on a clock the test moves, recording what it shows. */
function reporter(terminal: boolean) {
  let now = 1_000;
  let counters: Counters = { found: 0, checked: 0, uploaded: 0, bytes: 0, errors: 0 };
  const statuses: string[] = [];
  const lines: Fields[] = [];
  const progress = new ProgressReporter(() => counters, {
    terminal,
    now: () => now,
    sink: { status: (text) => statuses.push(text), line: (fields) => lines.push(fields) },
  });
  return {
    progress,
    statuses,
    lines,
    at(ms: number, next: Partial<Counters> = {}) {
      now = 1_000 + ms;
      counters = { ...counters, ...next };
      return progress.tick();
    },
  };
}

Deno.test("ProgressReporter logs a line every 10 s without a terminal, none before", () => {
  const run = reporter(false);
  for (let ms = 1_000; ms < 10_000; ms += 1_000) assert.equal(run.at(ms), false);
  assert.equal(run.at(10_000, { found: 40, checked: 30, uploaded: 3, bytes: 30_000 }), true);
  assert.equal(run.at(15_000), false);
  assert.equal(run.at(19_999), false);
  assert.equal(run.at(20_000, { checked: 40 }), true);
  assert.deepEqual(run.lines.map((f) => [f.checked, f.found, f.elapsed_s]), [
    [30, 40, 10],
    [40, 40, 20],
  ]);
  // 30 kB within the rate's 5 s window.
  assert.equal(run.lines[0]?.bytes_per_s, 6_000);
  run.progress.stop();
  assert.deepEqual(run.statuses, [], "no status line without a terminal");
});

Deno.test("ProgressReporter redraws a terminal's line at most 5 times a second and clears it", () => {
  const run = reporter(true);
  assert.equal(run.at(0), true, "the first tick draws at once");
  assert.equal(run.at(100), false);
  assert.equal(run.at(199), false);
  assert.equal(run.at(200, { found: 2, checked: 1 }), true);
  let shown = 0;
  for (let ms = 210; ms < 1_210; ms += 10) if (run.at(ms)) shown++;
  assert.equal(shown, 5);
  run.progress.stop();
  assert.equal(run.statuses.at(-1), "", "stop() clears the line");
  assert.match(run.statuses[1] ?? "", /^checked 1 of 2 files, uploaded 0, /);
  assert.deepEqual(run.lines, [], "no log lines on a terminal");
});
