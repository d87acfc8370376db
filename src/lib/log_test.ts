import assert from "node:assert/strict";
import { formatLine, registerSecret, setLogFormat } from "./log.ts";

Deno.test("formatLine() writes text with quoted fields, or JSON", () => {
  setLogFormat("text");
  const text = formatLine("info", "uploaded", {
    site: "s",
    key: "a b.txt",
    size: 3,
    skip: undefined,
  });
  assert.match(text, /^\d{4}-\d\d-\d\dT\S+Z INFO {2}uploaded site=s key="a b.txt" size=3$/);
  setLogFormat("json");
  const json = JSON.parse(formatLine("warn", "slow", { site: "s", ms: 5 }));
  assert.deepEqual({ ...json, time: undefined }, {
    time: undefined,
    level: "warn",
    msg: "slow",
    site: "s",
    ms: 5,
  });
  setLogFormat("text");
});

Deno.test("formatLine() masks registered secrets wherever they appear", () => {
  registerSecret("SUPERSECRETVALUE123");
  const line = formatLine("error", "failed with SUPERSECRETVALUE123 inside", {
    detail: "x-SUPERSECRETVALUE123",
  });
  assert.ok(!line.includes("SUPERSECRETVALUE123"));
  assert.match(line, /<redacted>/);
});
