import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "./duration.ts";

Deno.test("parseDuration() reads Go durations as milliseconds", () => {
  const cases: [string, number][] = [
    ["1000ms", 1000],
    ["30s", 30_000],
    ["1m30s", 90_000],
    ["2h", 7_200_000],
    ["1.5h", 5_400_000],
    ["1h30m15s", 5_415_000],
    ["0", 0],
    ["0s", 0],
    ["+5s", 5000],
    [".5s", 500],
    ["5.s", 5000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration() reads sub-millisecond units, including both micro signs", () => {
  assert.equal(parseDuration("500us"), 0.5);
  assert.equal(parseDuration("500\u00b5s"), 0.5);
  assert.equal(parseDuration("500\u03bcs"), 0.5);
  assert.ok(Math.abs(parseDuration("1500000ns") - 1.5) < 1e-9);
});

Deno.test("parseDuration() rejects empty, negative, unit-less and unknown units", () => {
  const cases: [string, string][] = [
    ["", 'invalid duration "": empty'],
    ["-1s", 'invalid duration "-1s": must not be negative'],
    ["10", 'invalid duration "10": missing unit (ns, us, ms, s, m, h)'],
    ["1m30", 'invalid duration "1m30": missing unit (ns, us, ms, s, m, h)'],
    ["5d", 'invalid duration "5d": unknown unit "d" (ns, us, ms, s, m, h)'],
    ["5 s", 'invalid duration "5 s": unknown unit " s" (ns, us, ms, s, m, h)'],
    ["abc", 'invalid duration "abc": expected a number and a unit, such as "30s" or "1m30s"'],
    [".s", 'invalid duration ".s": expected a number and a unit, such as "30s" or "1m30s"'],
    ["+", 'invalid duration "+": expected a number and a unit, such as "30s" or "1m30s"'],
    ["00", 'invalid duration "00": missing unit (ns, us, ms, s, m, h)'],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseDuration(text), { name: "SyntaxError", message }, text);
  }
});

Deno.test("formatDuration() writes what a person would put in the config", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(1000), "1s");
  assert.equal(formatDuration(1500), "1.5s");
  assert.equal(formatDuration(90_000), "1m30s");
  assert.equal(formatDuration(3_600_000), "1h");
  assert.equal(formatDuration(30 * 24 * 3_600_000), "720h");
  assert.equal(formatDuration(500), "500ms");
  assert.equal(formatDuration(0.5), "500\u00b5s");
  assert.equal(formatDuration(1e-6), "1ns");
  assert.equal(parseDuration(formatDuration(5_415_000)), 5_415_000);
});
