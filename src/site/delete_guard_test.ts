import assert from "node:assert/strict";
import { deleteCap, DeleteGuard, HOLD_MS, SMALL_DELETE, WINDOW_MS } from "./delete_guard.ts";

/** A guard on a clock the test moves. */
function guardAt(limit: ConstructorParameters<typeof DeleteGuard>[0], holdMs = HOLD_MS) {
  const clock = { now: 1_000_000 };
  const guard = new DeleteGuard(limit, () => clock.now, holdMs);
  return { guard, clock };
}

const names = (n: number, prefix = "f") =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);

Deno.test("deleteCap() reads a share of the objects, never below the small-delete floor", () => {
  assert.equal(deleteCap({ percent: 50 }, 1000), 500);
  assert.equal(deleteCap({ percent: 50 }, 7), SMALL_DELETE);
  assert.equal(deleteCap({ percent: 12.5 }, 1001), 125);
  assert.equal(deleteCap({ percent: 100 }, 5), Infinity);
  // A count is taken as written: 0 asks for a confirmation of every delete.
  assert.equal(deleteCap({ count: 0 }, 1000), 0);
  assert.equal(deleteCap({ count: 3 }, 1000), 3);
});

Deno.test("DeleteGuard.compared() lets a comparison under the cap go, and trips over it", () => {
  const { guard } = guardAt({ percent: 50 });
  assert.equal(guard.compared(40, names(10), 100), true);
  for (const rel of names(40)) {
    guard.clear(rel);
    assert.equal(guard.admit(rel, 100).verdict, "go");
  }
  // The 40 deleted just now count in the window: 40 + 20 > 50 of the 100 the site had.
  assert.equal(guard.compared(20, names(10), 60), false);
  assert.equal(guard.tripped?.count, 20);
  assert.equal(guard.tripped?.released, 40);
});

Deno.test("DeleteGuard trips on a comparison over the cap and holds every delete", () => {
  const { guard } = guardAt({ percent: 50 });
  assert.equal(guard.compared(20, names(10), 20), false);
  const tripped = guard.tripped!;
  assert.equal(tripped.count, 20);
  assert.equal(tripped.cap, 10);
  assert.deepEqual(tripped.sample, names(10));
  assert.deepEqual(guard.admit("f000", 20), { verdict: "held", tripped: false });
  // Counting again: fewer missing, still over; then under the cap, which lets go.
  assert.equal(guard.compared(15, names(10), 20), false);
  assert.equal(guard.tripped!.since, tripped.since);
  assert.equal(guard.compared(10, names(10), 20), true);
  assert.equal(guard.tripped, undefined);
});

Deno.test("DeleteGuard.confirm() approves only the count held, for the next comparison", () => {
  const { guard } = guardAt({ percent: 50 });
  assert.deepEqual(guard.confirm(20), { ok: false, held: 0 }); // nothing held
  guard.compared(20, names(10), 20);
  assert.deepEqual(guard.confirm(19), { ok: false, held: 20 });
  assert.deepEqual(guard.confirm(20), { ok: true });
  assert.equal(guard.compared(20, names(10), 20), true);
  assert.equal(guard.tripped, undefined);
  // An approval is used once: the next 20 trip again.
  assert.equal(guard.compared(20, names(10), 20), false);
});

Deno.test("DeleteGuard.confirm() does not cover a comparison that finds another count", () => {
  const { guard } = guardAt({ percent: 50 });
  guard.compared(20, names(10), 20);
  guard.confirm(20);
  assert.equal(guard.compared(21, names(10), 21), false);
  assert.equal(guard.tripped?.count, 21);
});

Deno.test("DeleteGuard.approve() lets a --once comparison of exactly that count go", () => {
  const { guard } = guardAt({ count: 5 }, 0);
  guard.approve(30);
  assert.equal(guard.keepAtMost(100), 30);
  assert.equal(guard.compared(30, names(10), 100), true);
});

Deno.test("DeleteGuard with max_delete: 100% lets a watched delete go at once", () => {
  const { guard } = guardAt({ percent: 100 });
  assert.equal(guard.off, true);
  assert.deepEqual(guard.admit("a", 1), { verdict: "go" });
});

Deno.test("DeleteGuard.admit() makes a watched delete wait, then lets it go", () => {
  const { guard, clock } = guardAt({ percent: 50 });
  assert.deepEqual(guard.admit("a", 100), { verdict: "wait", at: clock.now + HOLD_MS });
  clock.now += HOLD_MS;
  assert.deepEqual(guard.admit("a", 100), { verdict: "go" });
});

Deno.test("DeleteGuard.admit() trips on a burst before any of it goes (rm -rf)", () => {
  const { guard, clock } = guardAt({ percent: 50 });
  const verdicts = names(20).map((rel) => guard.admit(rel, 20).verdict);
  // The 11th of 20 is over the cap of 10: none went, all are held.
  assert.deepEqual(verdicts, [...Array(10).fill("wait"), ...Array(10).fill("held")]);
  assert.equal(guard.tripped?.count, 11);
  clock.now += HOLD_MS;
  assert.equal(guard.admit("f000", 20).verdict, "held");
});

Deno.test("DeleteGuard counts watched deletes in a sliding window", () => {
  const { guard, clock } = guardAt({ count: 3 }, 0);
  for (const rel of ["a", "b", "c"]) assert.equal(guard.admit(rel, 100).verdict, "go");
  assert.equal(guard.admit("d", 100).verdict, "held");
  assert.equal(guard.tripped?.released, 3);
  // The window's deletes stay counted while tripped, even once the window has passed them.
  clock.now += WINDOW_MS + 1;
  assert.equal(guard.compared(1, ["d"], 97), false);
  assert.equal(guard.compared(0, [], 97), true);
  assert.equal(guard.admit("e", 97).verdict, "go");
});

Deno.test("DeleteGuard lets a comparison's own deletes go at once, and forgets undone ones", () => {
  const { guard } = guardAt({ percent: 50 });
  assert.equal(guard.compared(2, ["a", "b"], 100), true);
  guard.clear("a");
  guard.clear("b");
  assert.deepEqual(guard.admit("a", 100), { verdict: "go" });
  guard.forget("b"); // its file came back
  assert.equal(guard.admit("b", 100).verdict, "wait");
});
