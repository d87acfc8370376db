import assert from "node:assert/strict";
import { DuePaths } from "./due.ts";

Deno.test("DuePaths gives what is due, earliest first; a later time replaces an earlier one", () => {
  const due = new DuePaths();
  due.set("c", 30);
  due.set("a", 10);
  due.set("b", 20);
  due.set("a", 25); // pushed back by a new event
  assert.equal(due.size, 3);
  assert.equal(due.next(Infinity), 20);
  assert.deepEqual(due.takeDue(24), ["b"]);
  assert.deepEqual(due.takeDue(100), ["a", "c"]);
  assert.equal(due.size, 0);
  assert.equal(due.next(99), 99);
  due.set("x", 5);
  due.set("x", 1); // brought forward
  assert.deepEqual(due.takeDue(1), ["x"]);
  assert.deepEqual(due.takeDue(10), []);
});

Deno.test("DuePaths stays small under a burst of events on the same paths", () => {
  const due = new DuePaths();
  for (let i = 0; i < 200_000; i++) due.set(`p${i % 10}`, i);
  assert.equal(due.size, 10);
  const order = due.takeDue(Infinity);
  assert.deepEqual(order, Array.from({ length: 10 }, (_, i) => `p${i}`));
});

Deno.test("DuePaths.sleep() ends early for an earlier deadline, and on abort", async () => {
  const due = new DuePaths();
  const controller = new AbortController();
  const started = Date.now();
  const sleeping = due.sleep(Date.now() + 60_000, controller.signal);
  due.set("late", Date.now() + 120_000); // later: no wake
  due.set("soon", Date.now() + 10);
  await sleeping;
  assert.ok(Date.now() - started < 30_000);
  const aborted = due.sleep(Date.now() + 60_000, controller.signal);
  controller.abort();
  await aborted;
});
