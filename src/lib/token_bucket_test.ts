import assert from "node:assert/strict";
import { type Clock, TokenBucket } from "./token_bucket.ts";

/** A clock that moves only to the end of a sleep, once the sleeper resumes; `wakes` lists them. */
function fakeClock(): Clock & { wakes: number[] } {
  let now = 0;
  const wakes: number[] = [];
  return {
    wakes,
    now: () => now,
    sleep: (ms) => {
      const at = now + ms;
      wakes.push(at);
      return Promise.resolve().then(() => {
        now = Math.max(now, at);
      });
    },
  };
}

Deno.test("TokenBucket holds the rate over time, lending only its burst after a pause", async () => {
  const clock = fakeClock();
  const bucket = new TokenBucket(1000, 100, clock);
  // The 100 ms lent (100 bytes) and the slice whose slot starts now go at once; then one
  // 100-byte slice every 100 ms.
  for (let i = 0; i < 11; i++) await bucket.take(100);
  assert.deepEqual(clock.wakes, [100, 200, 300, 400, 500, 600, 700, 800, 900]);
});

Deno.test("TokenBucket serves concurrent callers in turn, each at the start of its slot", async () => {
  const clock = fakeClock();
  const bucket = new TokenBucket(1000, 0, clock);
  await Promise.all([bucket.take(500), bucket.take(500), bucket.take(500)]);
  // Reserved at the same instant: they go 0 ms, 500 ms and 1,000 ms after it.
  assert.deepEqual(clock.wakes, [500, 1000]);
});

Deno.test("TokenBucket with rate 0 never waits, and a new rate applies to the next slot", async () => {
  const clock = fakeClock();
  const bucket = new TokenBucket(0, 0, clock);
  await bucket.take(1e9);
  assert.deepEqual(clock.wakes, []);
  bucket.bytesPerSecond = 100;
  await bucket.take(100);
  await bucket.take(100);
  assert.deepEqual(clock.wakes, [1000]);
  assert.throws(() => bucket.bytesPerSecond = -1, RangeError);
});

Deno.test("TokenBucket.take rejects with the signal's reason once aborted", async () => {
  const bucket = new TokenBucket(1);
  const controller = new AbortController();
  controller.abort(new Error("stop"));
  await assert.rejects(bucket.take(10, controller.signal), /stop/);
});
