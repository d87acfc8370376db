import assert from "node:assert/strict";
import { Channel } from "./channel.ts";
import { drain, Limiter } from "./limiter.ts";

Deno.test("Limiter runs at most `limit` tasks and serves waiters in order", async () => {
  const limiter = new Limiter(2);
  const a = await limiter.acquire();
  await limiter.acquire();
  const order: string[] = [];
  const c = limiter.acquire().then((release) => (order.push("c"), release));
  const d = limiter.acquire().then((release) => (order.push("d"), release));
  assert.deepEqual([limiter.active, limiter.waiting], [2, 2]);
  a();
  a(); // a second release of the same slot is ignored
  (await c)();
  (await d)();
  assert.deepEqual(order, ["c", "d"]);
  assert.equal(limiter.waiting, 0);
});

Deno.test("Limiter.acquire() rejects on abort without taking a slot", async () => {
  const limiter = new Limiter(1);
  const release = await limiter.acquire();
  const controller = new AbortController();
  const waiting = limiter.acquire(controller.signal);
  controller.abort(new Error("cancelled"));
  await assert.rejects(waiting, /cancelled/);
  assert.equal(limiter.waiting, 0);
  release();
  assert.equal(limiter.active, 0);
});

Deno.test("Limiter: a raised limit lets waiters in at once, a lowered one as slots come back", async () => {
  const limiter = new Limiter(1);
  const first = await limiter.acquire();
  const waiting = [limiter.acquire(), limiter.acquire(), limiter.acquire()];
  limiter.limit = 3;
  const [b, c] = await Promise.all(waiting.slice(0, 2));
  assert.deepEqual([limiter.active, limiter.waiting], [3, 1]);
  limiter.limit = 1;
  first();
  b?.();
  // Two slots came back but the limit is 1 and one is still held: the last waiter waits on.
  assert.deepEqual([limiter.active, limiter.waiting], [1, 1]);
  c?.();
  (await waiting[2])?.();
  assert.deepEqual([limiter.active, limiter.waiting], [0, 0]);
  assert.throws(() => limiter.limit = 0, RangeError);
});

Deno.test("drain() runs every value with bounded concurrency and waits for all", async () => {
  const channel = new Channel<number>(10);
  const limiter = new Limiter(3);
  let running = 0;
  let peak = 0;
  const done: number[] = [];
  const draining = drain(channel, limiter, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await Promise.resolve();
    done.push(n);
    running--;
  });
  for (let i = 0; i < 10; i++) await channel.send(i);
  channel.close();
  await draining;
  assert.equal(done.length, 10);
  assert.ok(peak <= 3);
  assert.equal(limiter.active, 0);
});
