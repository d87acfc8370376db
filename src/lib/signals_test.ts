import assert from "node:assert/strict";
import { signalRoles } from "./signals.ts";

Deno.test("SIGHUP reloads on POSIX systems and stops on Windows, where it means the console closed", () => {
  for (const os of ["linux", "darwin"]) {
    assert.deepEqual(signalRoles(os), { stop: ["SIGINT", "SIGTERM"], reload: ["SIGHUP"] });
  }
  const windows = signalRoles("windows");
  assert.deepEqual(windows.reload, []);
  assert.deepEqual(windows.stop, ["SIGINT", "SIGTERM", "SIGBREAK", "SIGHUP"]);
});
