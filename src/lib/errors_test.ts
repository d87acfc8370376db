import assert from "node:assert/strict";
import { isBusy } from "./errors.ts";

Deno.test("isBusy() knows a file held open by another program, on each error path", () => {
  assert.equal(isBusy(new Deno.errors.Busy("busy")), true);
  assert.equal(isBusy(Object.assign(new Error("open"), { code: "EBUSY" })), true);
  const sharing = "The process cannot access the file because it is being used by another " +
    "process. (os error 32)";
  assert.equal(isBusy(new Error(sharing)), true);
  assert.equal(isBusy(new Error("The process cannot access the file (os error 33)")), true);
  assert.equal(isBusy(new Deno.errors.PermissionDenied("denied")), false);
  assert.equal(isBusy(new Error("Access is denied. (os error 5)")), false);
});
