import assert from "node:assert/strict";
import { ByteBudget } from "./byte_budget.ts";

Deno.test("ByteBudget lets holders in while they fit, first come first served", async () => {
  const budget = new ByteBudget(100);
  const a = await budget.take(60);
  const order: string[] = [];
  const b = budget.take(50).then((give) => (order.push("b"), give));
  const c = budget.take(10).then((give) => (order.push("c"), give));
  await Promise.resolve();
  // c would fit, but b came first.
  assert.deepEqual([budget.used, order], [60, []]);
  a();
  a(); // a second give-back is ignored
  (await b)();
  (await c)();
  assert.deepEqual(order, ["b", "c"]);
  assert.equal(budget.used, 0);
});

Deno.test("ByteBudget lets a request larger than the budget in alone", async () => {
  const budget = new ByteBudget(100);
  const small = await budget.take(10);
  const large = budget.take(500);
  small();
  const give = await large;
  assert.equal(budget.used, 500);
  give();
  assert.equal(budget.used, 0);
});

Deno.test("ByteBudget.take rejects on abort and lets the next waiter in", async () => {
  const budget = new ByteBudget(100);
  const held = await budget.take(90);
  const controller = new AbortController();
  const big = budget.take(50, controller.signal);
  const small = budget.take(10);
  controller.abort(new Error("cancelled"));
  await assert.rejects(big, /cancelled/);
  (await small)();
  held();
  assert.equal(budget.used, 0);
});
