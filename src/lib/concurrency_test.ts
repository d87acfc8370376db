import assert from "node:assert/strict";
import { AdaptiveConcurrency, type Sample } from "./concurrency.ts";

/**
 * Feeds `windows` windows of requests taking `ms`, from an upload stage with more work than slots
 * (`saturated`) or with less.
 */
function run(
  control: AdaptiveConcurrency,
  clock: { now: number },
  windows: number,
  sample: Partial<Sample> & { ms: number },
  saturated = true,
  rate?: (limit: number, ms: number) => number,
): void {
  for (let w = 0; w < windows; w++) {
    // A steady 64 requests a second whatever the limit (the link gives no more), or `rate`.
    const perSecond = rate ? rate(control.limit, sample.ms) : 64;
    // Enough requests to close one window: 16, half the limit, and 0.1 s of them.
    const count = Math.max(16, Math.ceil(control.limit / 2), Math.ceil(perSecond / 10) + 1);
    for (let i = 0; i < count; i++) {
      // Slots taken and never given back: the test only needs someone waiting.
      while (saturated && control.limiter.waiting === 0) void control.limiter.acquire();
      clock.now += 1000 / perSecond;
      control.observe({ bytes: 4096, outcome: "ok", ...sample });
    }
  }
}

function controller(initial = 10) {
  const clock = { now: 0 };
  const changes: string[] = [];
  const control = new AdaptiveConcurrency({
    initial,
    max: 256,
    now: () => clock.now,
    onChange: (_limit, change) => changes.push(change),
  });
  return { clock, control, changes };
}

Deno.test("AdaptiveConcurrency doubles while latency holds, then grows by a quarter, up to its ceiling", () => {
  const { clock, control, changes } = controller();
  run(control, clock, 1, { ms: 30 });
  assert.equal(control.limit, 20);
  run(control, clock, 1, { ms: 30 });
  assert.equal(control.limit, 40);
  // Latency 1.5x the lowest: hold, and slow start is over.
  run(control, clock, 1, { ms: 45 });
  assert.equal(control.limit, 40);
  run(control, clock, 1, { ms: 30 });
  assert.equal(control.limit, 50);
  run(control, clock, 40, { ms: 30 });
  assert.equal(control.limit, 256);
  assert.equal(control.change, "grow");
  assert.ok(changes.every((c) => c === "grow"));
});

Deno.test("AdaptiveConcurrency holds when no work waits for a slot", () => {
  const { clock, control } = controller();
  run(control, clock, 10, { ms: 30 }, false);
  assert.equal(control.limit, 10);
  assert.equal(control.change, "start");
});

Deno.test("AdaptiveConcurrency comes down when latency climbs, and by 30% when throttled or stalled", () => {
  const { clock, control } = controller(100);
  run(control, clock, 1, { ms: 20 }, false);
  run(control, clock, 1, { ms: 50 });
  assert.equal(control.limit, 90);
  assert.equal(control.change, "latency");
  run(control, clock, 1, { ms: 20, outcome: "throttled" });
  assert.equal(control.limit, 63);
  assert.equal(control.change, "throttled");
  assert.match(control.reason, /answered "slow down"; 90 -> 63/);
  run(control, clock, 1, { ms: 20, outcome: "stalled", bytes: 1 << 20 });
  assert.equal(control.limit, 44);
  for (let i = 0; i < 20; i++) run(control, clock, 1, { ms: 20, outcome: "throttled" });
  assert.equal(control.limit, 1);
});

Deno.test("AdaptiveConcurrency compares latency within a size class, by the class most seen", () => {
  const { clock, control } = controller();
  run(control, clock, 1, { ms: 20 }, false);
  // Large bodies take long because they are large: no sign of queueing, and they grow the limit
  // as long as their own latency holds.
  run(control, clock, 1, { ms: 2000, bytes: 8 << 20 }, false);
  run(control, clock, 1, { ms: 2000, bytes: 8 << 20 });
  assert.equal(control.limit, 20);
  // Twice as long for the same size: the link is full.
  run(control, clock, 1, { ms: 4100, bytes: 8 << 20 });
  assert.equal(control.limit, 18);
  assert.equal(control.change, "latency");
});

Deno.test("AdaptiveConcurrency grows while a step up raises throughput, even as latency climbs", () => {
  const { clock, control } = controller();
  // Little's law with room to spare: every request in flight finishes in `ms`.
  const littles = (limit: number, ms: number) => (limit * 1000) / ms;
  run(control, clock, 1, { ms: 40 }, true, littles);
  assert.equal(control.limit, 20);
  // 1.5x the latency at twice the requests: a third more throughput, so on.
  run(control, clock, 1, { ms: 60 }, true, littles);
  assert.equal(control.limit, 25);
  assert.match(control.reason, /requests\/s, 3\d% more: more in flight; 20 -> 25/);
  // The same throughput at 25 as at 20: the link is full, hold.
  run(control, clock, 1, { ms: 75 }, true, littles);
  run(control, clock, 1, { ms: 75 }, true, () => 333);
  assert.equal(control.limit, 25);
});
